import { createUser, rpcOk, type User } from "../support/actors.ts";
import type { Sql } from "../support/db.ts";

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
  const [owner, admin, member, peer, former, invitee, outsider] = await Promise.all(
    ["Owner", "Admin", "Member", "Peer", "Former", "Invitee", "Outsider"].map((n) =>
      createUser(sql, { name: n }),
    ),
  );
  if (!owner || !admin || !member || !peer || !former || !invitee || !outsider) throw new Error("users");
  const room = await rpcOk<{ id: string }>(sql, owner, "create_private_room", { name });
  const roomId = room.id;
  for (const u of [admin, member, peer, former]) {
    const invite = await rpcOk<{ id: string }>(sql, owner, "send_invite", {
      room_id: roomId,
      invitee_id: u.id,
    });
    await rpcOk(sql, u, "accept_invite", { invite_id: invite.id });
  }
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

/** Makes a coworking room of the given capacity (as the seed does: a plain insert). */
export async function createCoworkingRoom(sql: Sql, capacity = 10, name = "Cowork"): Promise<string> {
  const [room] = await sql<{ id: string }[]>`
    insert into roomkit.rooms (kind, name, capacity) values ('coworking', ${name}, ${capacity}) returning id`;
  return room!.id;
}

/** A coworking room with two participants, one who left, and an outsider. */
export async function coworkingRoomCast(sql: Sql): Promise<CoworkingCast> {
  const [member, peer, former, outsider] = await Promise.all(
    ["Co member", "Co peer", "Co former", "Co outsider"].map((n) => createUser(sql, { name: n })),
  );
  if (!member || !peer || !former || !outsider) throw new Error("users");
  const roomId = await createCoworkingRoom(sql);
  for (const u of [member, peer, former]) await rpcOk(sql, u, "join_coworking_room", { room_id: roomId });
  await rpcOk(sql, former, "leave_room", { room_id: roomId });
  return { roomId, member, peer, former, outsider };
}
