/**
 * The RLS matrix: every public table × operation × actor, with the expected outcome, each cell
 * proven by a real statement run the way PostgREST runs a request (set role + request.jwt.claims in
 * one transaction), then rolled back so cells stay independent.
 *
 * Outcomes:
 *  - "ok"    — select sees the row / insert, update, delete changes exactly that row;
 *  - "none"  — no error, zero rows (RLS filtered the row out);
 *  - "42501" — rejected: no privilege (grant) or a row-level security WITH CHECK violation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Actor, ANON, as, attempt, SERVICE, type Tx } from "../support/acting.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import {
  type CoworkingCast,
  coworkingRoomCast,
  type PrivateCast,
  privateRoomCast,
} from "../support/rooms.ts";
import { insertUser, type User } from "../support/users.ts";

type Expect = "ok" | "none" | "42501";
type ActorName = "anon" | "outsider" | "invitee" | "member" | "admin" | "owner" | "former" | "service";
type Op = "select" | "insert" | "update" | "delete";

interface World {
  p: PrivateCast;
  c: CoworkingCast;
  /** A user with no relation to anything: target of "someone else's profile". */
  bystander: User;
  /** An auth user whose profile was removed: lets an allowed profile insert succeed. */
  orphanId: string;
  /** A message by p.member in the private room, and by c.member in the coworking room. */
  messageP: string;
  messageC: string;
}

interface Cell {
  table: string;
  op: Op;
  room: "private" | "coworking" | "none";
  /** What the statement tries, in words. */
  what: string;
  /** "self" in a statement is `coalesce(auth.uid(), <fallback>)`: anon and service have no uid. */
  run: (tx: Tx, w: World) => Promise<readonly unknown[]>;
  expect: Partial<Record<ActorName, Expect>>;
}

const PRIVATE_ACTORS: ActorName[] = [
  "anon",
  "outsider",
  "invitee",
  "member",
  "admin",
  "owner",
  "former",
  "service",
];
const COWORKING_ACTORS: ActorName[] = ["anon", "outsider", "member", "former", "service"];

/** Expectations for the eight private-room actors, in PRIVATE_ACTORS order. */
function p8(
  ...e: [Expect, Expect, Expect, Expect, Expect, Expect, Expect, Expect]
): Partial<Record<ActorName, Expect>> {
  return Object.fromEntries(PRIVATE_ACTORS.map((a, i) => [a, e[i]]));
}
/** Expectations for the five coworking actors, in COWORKING_ACTORS order. */
function c5(...e: [Expect, Expect, Expect, Expect, Expect]): Partial<Record<ActorName, Expect>> {
  return Object.fromEntries(COWORKING_ACTORS.map((a, i) => [a, e[i]]));
}

const DENY_ALL_BUT_SERVICE = p8("42501", "42501", "42501", "42501", "42501", "42501", "42501", "ok");

//                                 anon     outsider invitee  member   admin    owner    former   service
const MATRIX: Cell[] = [
  // profiles
  {
    table: "profiles",
    op: "select",
    room: "none",
    what: "someone else's profile",
    run: (tx, w) => tx`select id from roomkit.profiles where id = ${w.bystander.id}`,
    expect: p8("42501", "ok", "ok", "ok", "ok", "ok", "ok", "ok"),
  },
  {
    table: "profiles",
    op: "insert",
    room: "none",
    what: "a profile for an auth user without one",
    run: (tx, w) =>
      tx`insert into roomkit.profiles (id, display_name) values (${w.orphanId}, 'Orphan') returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "profiles",
    op: "update",
    room: "none",
    what: "own display_name",
    run: (tx, w) => tx`update roomkit.profiles set display_name = 'Renamed'
                       where id = coalesce(auth.uid(), ${w.bystander.id}) returning id`,
    expect: p8("42501", "ok", "ok", "ok", "ok", "ok", "ok", "ok"),
  },
  {
    table: "profiles",
    op: "update",
    room: "none",
    what: "someone else's display_name",
    run: (tx, w) =>
      tx`update roomkit.profiles set display_name = 'Hijacked' where id = ${w.bystander.id} returning id`,
    expect: p8("42501", "none", "none", "none", "none", "none", "none", "ok"),
  },
  {
    table: "profiles",
    op: "update",
    room: "none",
    what: "own is_ai flag (column not granted)",
    run: (tx, w) => tx`update roomkit.profiles set is_ai = true
                       where id = coalesce(auth.uid(), ${w.bystander.id}) returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "profiles",
    op: "delete",
    room: "none",
    what: "someone else's profile",
    run: (tx, w) => tx`delete from roomkit.profiles where id = ${w.bystander.id} returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },

  // rooms
  {
    table: "rooms",
    op: "select",
    room: "private",
    what: "the room",
    run: (tx, w) => tx`select id from roomkit.rooms where id = ${w.p.roomId}`,
    expect: p8("none", "none", "ok", "ok", "ok", "ok", "none", "ok"),
  },
  {
    table: "rooms",
    op: "insert",
    room: "private",
    what: "a new private room directly (not via create_private_room)",
    run: (tx, w) => tx`insert into roomkit.rooms (kind, name, ai_mode, created_by)
                       values ('private', 'Direct', 'mention', coalesce(auth.uid(), ${w.p.owner.id})) returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "rooms",
    op: "update",
    room: "private",
    what: "name",
    run: (tx, w) => tx`update roomkit.rooms set name = 'Renamed' where id = ${w.p.roomId} returning id`,
    expect: p8("42501", "none", "none", "none", "ok", "ok", "none", "ok"),
  },
  {
    table: "rooms",
    op: "update",
    room: "private",
    what: "status (column not granted)",
    run: (tx, w) => tx`update roomkit.rooms set status = 'inactive' where id = ${w.p.roomId} returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "rooms",
    op: "delete",
    room: "private",
    what: "the room",
    // Not even the owner: deleting a room goes through delete_room (one write path).
    run: (tx, w) => tx`delete from roomkit.rooms where id = ${w.p.roomId} returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "rooms",
    op: "select",
    room: "coworking",
    what: "the room",
    run: (tx, w) => tx`select id from roomkit.rooms where id = ${w.c.roomId}`,
    expect: c5("ok", "ok", "ok", "ok", "ok"),
  },
  {
    table: "rooms",
    op: "insert",
    room: "coworking",
    what: "a new coworking room",
    run: (tx) =>
      tx`insert into roomkit.rooms (kind, name, capacity) values ('coworking', 'Direct', 5) returning id`,
    expect: c5("42501", "42501", "42501", "42501", "ok"),
  },
  {
    table: "rooms",
    op: "update",
    room: "coworking",
    what: "name",
    run: (tx, w) => tx`update roomkit.rooms set name = 'Renamed' where id = ${w.c.roomId} returning id`,
    expect: c5("42501", "none", "none", "none", "ok"),
  },
  {
    table: "rooms",
    op: "update",
    room: "coworking",
    what: "capacity (column not granted)",
    run: (tx, w) => tx`update roomkit.rooms set capacity = 500 where id = ${w.c.roomId} returning id`,
    expect: c5("42501", "42501", "42501", "42501", "ok"),
  },
  {
    table: "rooms",
    op: "delete",
    room: "coworking",
    what: "the room",
    run: (tx, w) => tx`delete from roomkit.rooms where id = ${w.c.roomId} returning id`,
    expect: c5("42501", "42501", "42501", "42501", "ok"),
  },

  // room_members
  {
    table: "room_members",
    op: "select",
    room: "private",
    what: "another member's row",
    run: (tx, w) =>
      tx`select user_id from roomkit.room_members where room_id = ${w.p.roomId} and user_id = ${w.p.peer.id}`,
    expect: p8("42501", "none", "none", "ok", "ok", "ok", "none", "ok"),
  },
  {
    table: "room_members",
    op: "select",
    room: "private",
    what: "own row (former: own history row)",
    run: (tx, w) => tx`select user_id from roomkit.room_members
                       where room_id = ${w.p.roomId} and user_id = coalesce(auth.uid(), ${w.p.peer.id})`,
    expect: p8("42501", "none", "none", "ok", "ok", "ok", "none", "ok"),
  },
  {
    table: "room_members",
    op: "insert",
    room: "private",
    what: "self (or the outsider) as a member directly",
    run: (tx, w) => tx`insert into roomkit.room_members (room_id, user_id)
                       values (${w.p.roomId}, coalesce(auth.uid(), ${w.p.outsider.id})) returning user_id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_members",
    op: "update",
    room: "private",
    what: "own mic_enabled",
    run: (tx, w) => tx`update roomkit.room_members set mic_enabled = not mic_enabled
                       where room_id = ${w.p.roomId} and user_id = coalesce(auth.uid(), ${w.p.peer.id}) returning user_id`,
    // The mic goes through set_mic (coworking rooms only), the read marker through mark_room_read.
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_members",
    op: "update",
    room: "private",
    what: "another member's mic_enabled",
    run: (tx, w) => tx`update roomkit.room_members set mic_enabled = not mic_enabled
                       where room_id = ${w.p.roomId} and user_id = ${w.p.peer.id} returning user_id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_members",
    op: "update",
    room: "private",
    what: "own role (column not granted)",
    run: (tx, w) => tx`update roomkit.room_members set role = 'admin'
                       where room_id = ${w.p.roomId} and user_id = coalesce(auth.uid(), ${w.p.peer.id}) returning user_id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_members",
    op: "update",
    room: "private",
    what: "own left_at back to null (column not granted)",
    run: (tx, w) => tx`update roomkit.room_members set left_at = null
                       where room_id = ${w.p.roomId} and user_id = coalesce(auth.uid(), ${w.p.former.id}) returning user_id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_members",
    op: "delete",
    room: "private",
    what: "another member's row",
    run: (
      tx,
      w,
    ) => tx`delete from roomkit.room_members where room_id = ${w.p.roomId} and user_id = ${w.p.peer.id}
                       returning user_id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_members",
    op: "select",
    room: "coworking",
    what: "another participant's row",
    run: (tx, w) =>
      tx`select user_id from roomkit.room_members where room_id = ${w.c.roomId} and user_id = ${w.c.peer.id}`,
    expect: c5("42501", "ok", "ok", "ok", "ok"),
  },
  {
    table: "room_members",
    op: "insert",
    room: "coworking",
    what: "self as a participant directly (bypassing capacity)",
    run: (tx, w) => tx`insert into roomkit.room_members (room_id, user_id)
                       values (${w.c.roomId}, coalesce(auth.uid(), ${w.c.outsider.id})) returning user_id`,
    expect: c5("42501", "42501", "42501", "42501", "ok"),
  },
  {
    table: "room_members",
    op: "update",
    room: "coworking",
    what: "own mic_enabled",
    run: (tx, w) => tx`update roomkit.room_members set mic_enabled = not mic_enabled
                       where room_id = ${w.c.roomId} and user_id = coalesce(auth.uid(), ${w.c.peer.id}) returning user_id`,
    expect: c5("42501", "42501", "42501", "42501", "ok"),
  },
  {
    table: "room_members",
    op: "update",
    room: "coworking",
    what: "another participant's mic_enabled",
    run: (tx, w) => tx`update roomkit.room_members set mic_enabled = not mic_enabled
                       where room_id = ${w.c.roomId} and user_id = ${w.c.peer.id} returning user_id`,
    expect: c5("42501", "42501", "42501", "42501", "ok"),
  },
  {
    table: "room_members",
    op: "delete",
    room: "coworking",
    what: "another participant's row",
    run: (
      tx,
      w,
    ) => tx`delete from roomkit.room_members where room_id = ${w.c.roomId} and user_id = ${w.c.peer.id}
                       returning user_id`,
    expect: c5("42501", "42501", "42501", "42501", "ok"),
  },

  // room_invites (the pending invite: inviter = member, invitee = invitee)
  {
    table: "room_invites",
    op: "select",
    room: "private",
    what: "the pending invite",
    run: (tx, w) => tx`select id from roomkit.room_invites where id = ${w.p.inviteId}`,
    expect: p8("42501", "none", "ok", "ok", "ok", "ok", "none", "ok"),
  },
  {
    table: "room_invites",
    op: "insert",
    room: "private",
    what: "an invite directly (not via send_invite)",
    run: (tx, w) => tx`insert into roomkit.room_invites (room_id, inviter_id, invitee_id)
                       values (${w.p.roomId}, coalesce(auth.uid(), ${w.p.owner.id}), ${w.bystander.id}) returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_invites",
    op: "update",
    room: "private",
    what: "status to accepted directly",
    run: (tx, w) =>
      tx`update roomkit.room_invites set status = 'accepted' where id = ${w.p.inviteId} returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_invites",
    op: "delete",
    room: "private",
    what: "the pending invite",
    run: (tx, w) => tx`delete from roomkit.room_invites where id = ${w.p.inviteId} returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },

  // room_messages
  {
    table: "room_messages",
    op: "select",
    room: "private",
    what: "a member's message",
    run: (tx, w) => tx`select id from roomkit.room_messages where id = ${w.messageP}`,
    expect: p8("42501", "none", "none", "ok", "ok", "ok", "none", "ok"),
  },
  {
    table: "room_messages",
    op: "insert",
    room: "private",
    what: "a text message as self",
    run: (tx, w) => tx`insert into roomkit.room_messages (room_id, sender_id, kind, body)
                       values (${w.p.roomId}, coalesce(auth.uid(), ${w.p.member.id}), 'text', 'hello') returning id`,
    // Messages are sent through send_message (one write path).
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_messages",
    op: "insert",
    room: "private",
    what: "a text message in another member's name",
    run: (tx, w) => tx`insert into roomkit.room_messages (room_id, sender_id, kind, body)
                       values (${w.p.roomId}, ${w.p.peer.id}, 'text', 'forged') returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_messages",
    op: "insert",
    room: "private",
    what: "an 'ai' message as self",
    run: (tx, w) => tx`insert into roomkit.room_messages (room_id, sender_id, kind, body)
                       values (${w.p.roomId}, coalesce(auth.uid(), ${w.p.member.id}), 'ai', 'beep') returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_messages",
    op: "update",
    room: "private",
    what: "a member's message body",
    run: (tx, w) =>
      tx`update roomkit.room_messages set body = 'edited' where id = ${w.messageP} returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_messages",
    op: "delete",
    room: "private",
    what: "a member's message (hard delete)",
    run: (tx, w) => tx`delete from roomkit.room_messages where id = ${w.messageP} returning id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "room_messages",
    op: "select",
    room: "coworking",
    what: "a participant's message",
    run: (tx, w) => tx`select id from roomkit.room_messages where id = ${w.messageC}`,
    expect: c5("42501", "none", "ok", "none", "ok"),
  },
  {
    table: "room_messages",
    op: "insert",
    room: "coworking",
    what: "a text message as self",
    run: (tx, w) => tx`insert into roomkit.room_messages (room_id, sender_id, kind, body)
                       values (${w.c.roomId}, coalesce(auth.uid(), ${w.c.member.id}), 'text', 'hello') returning id`,
    expect: c5("42501", "42501", "42501", "42501", "ok"),
  },

  // message_reactions (every private actor except anon/service has a 👍 on messageP, planted by the superuser)
  {
    table: "message_reactions",
    op: "select",
    room: "private",
    what: "another member's reaction",
    run: (tx, w) => tx`select message_id from roomkit.message_reactions
                       where message_id = ${w.messageP} and user_id = ${w.p.peer.id}`,
    expect: p8("42501", "none", "none", "ok", "ok", "ok", "none", "ok"),
  },
  {
    table: "message_reactions",
    op: "insert",
    room: "private",
    what: "a reaction as self",
    run: (tx, w) => tx`insert into roomkit.message_reactions (message_id, user_id, emoji)
                       values (${w.messageP}, coalesce(auth.uid(), ${w.p.member.id}), '🎉') returning message_id`,
    expect: p8("42501", "42501", "42501", "ok", "ok", "ok", "42501", "ok"),
  },
  {
    table: "message_reactions",
    op: "insert",
    room: "private",
    what: "a reaction in another member's name",
    run: (tx, w) => tx`insert into roomkit.message_reactions (message_id, user_id, emoji)
                       values (${w.messageP}, ${w.p.peer.id}, '🎉') returning message_id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "message_reactions",
    op: "update",
    room: "private",
    what: "another member's emoji",
    run: (tx, w) => tx`update roomkit.message_reactions set emoji = '💩'
                       where message_id = ${w.messageP} and user_id = ${w.p.peer.id} returning message_id`,
    expect: DENY_ALL_BUT_SERVICE,
  },
  {
    table: "message_reactions",
    op: "delete",
    room: "private",
    what: "own reaction",
    run: (tx, w) => tx`delete from roomkit.message_reactions
                       where message_id = ${w.messageP} and user_id = coalesce(auth.uid(), ${w.p.peer.id})
                       returning message_id`,
    expect: p8("42501", "none", "none", "ok", "ok", "ok", "none", "ok"),
  },
  {
    table: "message_reactions",
    op: "delete",
    room: "private",
    what: "another member's reaction",
    run: (tx, w) => tx`delete from roomkit.message_reactions
                       where message_id = ${w.messageP} and user_id = ${w.p.peer.id} returning message_id`,
    expect: p8("42501", "none", "none", "none", "none", "none", "none", "ok"),
  },
  {
    table: "message_reactions",
    op: "insert",
    room: "coworking",
    what: "a reaction as self",
    run: (tx, w) => tx`insert into roomkit.message_reactions (message_id, user_id, emoji)
                       values (${w.messageC}, coalesce(auth.uid(), ${w.c.member.id}), '🎉') returning message_id`,
    expect: c5("42501", "42501", "ok", "42501", "ok"),
  },
];

/** The actor behind a matrix column, for the room kind of the cell. */
function actorFor(name: ActorName, cell: Cell, w: World): Actor {
  if (name === "anon") return ANON;
  if (name === "service") return SERVICE;
  const cast: Record<string, User> =
    cell.room === "coworking"
      ? { outsider: w.c.outsider, member: w.c.member, former: w.c.former }
      : {
          outsider: w.p.outsider,
          invitee: w.p.invitee,
          member: w.p.member,
          admin: w.p.admin,
          owner: w.p.owner,
          former: w.p.former,
        };
  const user = cast[name];
  if (!user) throw new Error(`no ${name} for a ${cell.room} cell`);
  return user;
}

const CELLS = MATRIX.flatMap((cell) =>
  Object.entries(cell.expect).map(([actor, expected]) => ({
    name: `${actor} tries ${cell.op} on ${cell.table} (${cell.room === "none" ? "" : `${cell.room} room: `}${cell.what})`,
    cell,
    actor: actor as ActorName,
    expected: expected as Expect,
  })),
);

let db: TestDatabase;
let world: World;

beforeAll(async () => {
  db = await createTestDatabase();
  const sql = db.sql;
  const [p, c, bystander, orphan] = await Promise.all([
    privateRoomCast(sql),
    coworkingRoomCast(sql),
    insertUser(sql, { name: "Bystander" }),
    insertUser(sql, { name: "Orphan" }),
  ]);
  await sql`delete from roomkit.profiles where id = ${orphan.id}`;
  const [mp] = await as(
    sql,
    p.member,
    (tx) => tx`select id from roomkit.send_message(${p.roomId}, 'hi from member')`,
  );
  const [mc] = await as(
    sql,
    c.member,
    (tx) => tx`select id from roomkit.send_message(${c.roomId}, 'hi coworkers')`,
  );
  const messageP = String(mp?.id);
  const messageC = String(mc?.id);
  for (const u of [p.peer, p.outsider, p.invitee, p.member, p.admin, p.owner, p.former]) {
    await sql`insert into roomkit.message_reactions (message_id, user_id, emoji) values (${messageP}, ${u.id}, '👍')`;
  }
  world = { p, c, bystander, orphanId: orphan.id, messageP, messageC };
  console.log(`RLS matrix: ${CELLS.length} cells over ${new Set(MATRIX.map((m) => m.table)).size} tables`);
});

afterAll(() => db?.drop());

describe("RLS matrix", () => {
  it.each(CELLS.map((c) => [c.name, c.expected, c] as const))(
    "when %s, then %s",
    async (_name, _e, { cell, actor, expected }) => {
      const outcome = await attempt(db.sql, actorFor(actor, cell, world), (tx) => cell.run(tx, world), {
        rollback: true,
      });
      const got: Expect | string = outcome.ok
        ? outcome.value.length === 0
          ? "none"
          : outcome.value.length === 1
            ? "ok"
            : `${outcome.value.length} rows`
        : outcome.error.code === "42501"
          ? "42501"
          : `${outcome.error.code} ${outcome.error.message}`;
      expect(got).toBe(expected);
    },
  );

  it("when a table exists in public, then the matrix has select, insert, update and delete cells for it", async () => {
    const tables = await db.sql<{ relname: string }[]>`
      select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1`;
    const covered = new Set(MATRIX.map((m) => `${m.table}:${m.op}`));
    const missing = tables.flatMap(({ relname }) =>
      (["select", "insert", "update", "delete"] as const)
        .filter((op) => !covered.has(`${relname}:${op}`))
        .map((op) => `${relname}:${op}`),
    );
    expect(missing).toEqual([]);
  });

  it("when the cells run, then every one of them was rolled back (the fixture is unchanged)", async () => {
    // Runs the cells itself: with shuffled order the matrix may not have run yet.
    for (const { cell, actor } of CELLS) {
      await attempt(db.sql, actorFor(actor, cell, world), (tx) => cell.run(tx, world), { rollback: true });
    }
    const [counts] = await db.sql<{ rooms: number; members: number; messages: number; reactions: number }[]>`
      select (select count(*)::int from roomkit.rooms where id in (${world.p.roomId}, ${world.c.roomId})) as rooms,
             (select count(*)::int from roomkit.room_members where room_id = ${world.p.roomId} and left_at is null) as members,
             (select count(*)::int from roomkit.room_messages where id in (${world.messageP}, ${world.messageC})) as messages,
             (select count(*)::int from roomkit.message_reactions where message_id = ${world.messageP}) as reactions`;
    expect(counts).toEqual({ rooms: 2, members: 4, messages: 2, reactions: 7 });
  });
});
