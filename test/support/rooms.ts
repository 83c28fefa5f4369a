import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { rpcOk } from "./acting.ts";
import type { Sql } from "./db.ts";
import type { TestStack } from "./stack.ts";
import { insertUsers, must, type Person, type User } from "./users.ts";

/**
 * Rooms for tests: made in SQL through Roomkit's own functions (as the owner), or through the
 * client library by people who signed up; and the casts around a room the RLS suites check.
 */

/**
 * A private room `owner` creates with create_private_room (its default AI mode unless asked), with `members`
 * each invited (send_invite) and accepting (accept_invite) through the real SQL functions.
 *
 * @example
 * const roomId = await privateRoom(db.sql, ada, { members: [bob] });
 */
export async function privateRoom(
  sql: Sql,
  owner: User,
  options: { name?: string; aiMode?: "off" | "mention" | "always"; members?: User[] } = {},
): Promise<string> {
  const room = await rpcOk<{ id: string }>(sql, owner, "create_private_room", {
    name: options.name ?? "Room",
    ...(options.aiMode ? { ai_mode: options.aiMode } : {}),
  });
  for (const member of options.members ?? []) {
    const invite = await rpcOk<{ id: string }>(sql, owner, "send_invite", {
      room_id: room.id,
      invitee_id: member.id,
    });
    await rpcOk(sql, member, "accept_invite", { invite_id: invite.id });
  }
  return room.id;
}

/**
 * A coworking room (made as the superuser, like the seed: a plain insert), with a unique name
 * unless one is given.
 */
export async function coworkingRoom(
  sql: Sql,
  options: { capacity?: number; name?: string; status?: "active" | "inactive" } = {},
): Promise<string> {
  const name = options.name ?? `Cowork ${randomUUID().slice(0, 6)}`;
  const [room] = await sql<{ id: string }[]>`
    insert into roomkit.rooms (kind, name, capacity, status)
    values ('coworking', ${name}, ${options.capacity ?? 10}, ${options.status ?? "active"}) returning id`;
  return room!.id;
}

/**
 * A private room of `owner` with `guests` as members (each invited and accepting), through the
 * client library; AI off unless asked. Returns the room id.
 */
export async function roomWith(
  owner: Person,
  guests: Person[],
  options: { name?: string; ai_mode?: "off" | "mention" | "always" } = {},
): Promise<string> {
  const room = must(
    await owner.roomkit.rooms.create({ name: options.name ?? "Room", ai_mode: options.ai_mode ?? "off" }),
  );
  for (const guest of guests) {
    const invite = must(await owner.roomkit.invites.send(room.id, { invitee_id: guest.id }));
    must(await guest.roomkit.invites.accept(invite.id));
  }
  return room.id;
}

/**
 * Shortens the coworking participant timeout (production: 45 s) of a local stack's database, for
 * suites that watch a closed tab be let go; their stack runs the sweep often (`sweepIntervalMs`)
 * and their clients heartbeat well within the timeout.
 */
export async function setParticipantTimeout(stack: Pick<TestStack, "dbUrl">, seconds: number): Promise<void> {
  if (!stack.dbUrl) throw new Error("setParticipantTimeout needs the stack's database URL");
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`update roomkit_private.limits set participant_timeout_seconds = ${seconds}`;
  } finally {
    await sql.end();
  }
}

/** The people around one private room, each reached through the real SQL functions. */
export interface PrivateCast {
  roomId: string;
  owner: User;
  admin: User;
  member: User;
  /** Another plain member: the "someone else's row" target. */
  peer: User;
  /** Joined, then left: keeps a history row with left_at set. */
  former: User;
  /** Holds a pending invite (sent by `member`). */
  invitee: User;
  inviteId: string;
  /** Signed in, no relation to the room. */
  outsider: User;
}

/**
 * A private room with an owner, an admin, two members, a former member, a pending invitee and an
 * outsider, built with create_private_room / send_invite / accept_invite / set_member_role / leave_room.
 *
 * @example
 * const cast = await privateRoomCast(db.sql);
 */
export async function privateRoomCast(sql: Sql, name = "Team room"): Promise<PrivateCast> {
  const [owner, admin, member, peer, former, invitee, outsider] = await insertUsers(
    sql,
    ["Owner", "Admin", "Member", "Peer", "Former", "Invitee", "Outsider"].map((n) => ({ name: n })),
  );
  if (!owner || !admin || !member || !peer || !former || !invitee || !outsider) throw new Error("users");
  const roomId = await privateRoom(sql, owner, { name, members: [admin, member, peer, former] });
  await rpcOk(sql, owner, "set_member_role", { room_id: roomId, user_id: admin.id, role: "admin" });
  await rpcOk(sql, former, "leave_room", { room_id: roomId });
  const invite = await rpcOk<{ id: string }>(sql, member, "send_invite", {
    room_id: roomId,
    invitee_id: invitee.id,
  });
  return { roomId, owner, admin, member, peer, former, invitee, inviteId: invite.id, outsider };
}

/** A coworking room (created as the superuser, like the seed) and its people. */
export interface CoworkingCast {
  roomId: string;
  member: User;
  peer: User;
  former: User;
  outsider: User;
}

/** A coworking room with two participants, one who left, and an outsider. */
export async function coworkingRoomCast(sql: Sql): Promise<CoworkingCast> {
  const [member, peer, former, outsider] = await insertUsers(
    sql,
    ["Co member", "Co peer", "Co former", "Co outsider"].map((n) => ({ name: n })),
  );
  if (!member || !peer || !former || !outsider) throw new Error("users");
  const roomId = await coworkingRoom(sql, { name: "Cowork" });
  for (const u of [member, peer, former]) await rpcOk(sql, u, "join_coworking_room", { room_id: roomId });
  await rpcOk(sql, former, "leave_room", { room_id: roomId });
  return { roomId, member, peer, former, outsider };
}
