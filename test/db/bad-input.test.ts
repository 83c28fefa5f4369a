/**
 * Bad input through every write path: each attempt fails with a stable SQLSTATE (the HTTP status
 * PostgREST derives from it: 22023/23514/22P02/22007 → 400) and leaves the database unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Actor, attempt, rpcOk, SERVICE, type Tx } from "../support/acting.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { coworkingRoom } from "../support/rooms.ts";
import { insertUser, type User } from "../support/users.ts";

interface World {
  owner: User;
  roomId: string;
  coworkingId: string;
  messageId: string;
}

let db: TestDatabase;
let w: World;

beforeAll(async () => {
  db = await createTestDatabase();
  const owner = await insertUser(db.sql, { name: "Owner" });
  const room = await rpcOk<{ id: string }>(db.sql, owner, "create_private_room", { name: "Inputs" });
  const coworkingId = await coworkingRoom(db.sql, { capacity: 5 });
  await rpcOk(db.sql, owner, "join_coworking_room", { room_id: coworkingId });
  const msg = await rpcOk<{ id: string }>(db.sql, owner, "send_message", { room_id: room.id, body: "hi" });
  w = { owner, roomId: room.id, coworkingId, messageId: msg.id };
});
afterAll(() => db?.drop());

/** A digest of every row in every Roomkit table, plus the realtime.messages count: "nothing written". */
async function fingerprint(): Promise<string> {
  const tables = await db.sql<{ relname: string }[]>`
    select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'roomkit' and c.relkind in ('r', 'p') order by 1`;
  const parts: string[] = [];
  for (const { relname } of tables) {
    const [row] = await db.sql.unsafe<{ h: string }[]>(
      `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h from roomkit.${relname} t`,
    );
    parts.push(`${relname}:${row?.h}`);
  }
  const [rt] = await db.sql<{ n: number }[]>`select count(*)::int as n from realtime.messages`;
  return `${parts.join(",")};realtime:${rt?.n}`;
}

type Case = [string, "owner" | "service", (tx: Tx, w: World) => Promise<unknown>, string, string | undefined];

const long = (n: number) => "x".repeat(n);

const CASES: Case[] = [
  // create_private_room
  [
    "a room name of 101 characters",
    "owner",
    (tx) => tx`select roomkit.create_private_room(${long(101)})`,
    "22023",
    "invalid_input",
  ],
  [
    "an empty room name",
    "owner",
    (tx) => tx`select roomkit.create_private_room('')`,
    "22023",
    "invalid_input",
  ],
  [
    "a whitespace-only room name",
    "owner",
    (tx) => tx`select roomkit.create_private_room(${" \t\n "})`,
    "22023",
    "invalid_input",
  ],
  [
    "a room name of no-break and zero-width spaces",
    "owner",
    (tx) => tx`select roomkit.create_private_room(${"\u00a0\u200b\u00a0"})`,
    "22023",
    "invalid_input",
  ],
  [
    "a null room name",
    "owner",
    (tx) => tx`select roomkit.create_private_room(null)`,
    "22023",
    "invalid_input",
  ],
  [
    "a description of 501 characters",
    "owner",
    (tx) => tx`select roomkit.create_private_room('ok', ${long(501)})`,
    "22023",
    "invalid_input",
  ],
  [
    "an unknown AI mode",
    "owner",
    (tx) => tx`select roomkit.create_private_room('ok', null, ${"sometimes"})`,
    "22P02",
    undefined,
  ],
  // direct room updates (PATCH /rooms)
  [
    "renaming a room to 101 characters",
    "owner",
    (tx, w) => tx`update roomkit.rooms set name = ${long(101)} where id = ${w.roomId}`,
    "23514",
    undefined,
  ],
  [
    "renaming a room to spaces",
    "owner",
    (tx, w) => tx`update roomkit.rooms set name = '    ' where id = ${w.roomId}`,
    "23514",
    undefined,
  ],
  [
    "a description of 501 characters on update",
    "owner",
    (tx, w) => tx`update roomkit.rooms set description = ${long(501)} where id = ${w.roomId}`,
    "23514",
    undefined,
  ],
  [
    "an unknown AI mode on update",
    "owner",
    (tx, w) => tx`update roomkit.rooms set ai_mode = ${"loud"} where id = ${w.roomId}`,
    "22P02",
    undefined,
  ],
  // coworking rooms (service role / seed)
  [
    "a coworking room of capacity 0",
    "service",
    (tx) => tx`insert into roomkit.rooms (kind, name, capacity) values ('coworking', 'Zero', 0)`,
    "23514",
    undefined,
  ],
  [
    "a coworking room of capacity 501",
    "service",
    (tx) => tx`insert into roomkit.rooms (kind, name, capacity) values ('coworking', 'Huge', 501)`,
    "23514",
    undefined,
  ],
  [
    "a coworking room without a capacity",
    "service",
    (tx) => tx`insert into roomkit.rooms (kind, name) values ('coworking', 'Unbounded')`,
    "23514",
    undefined,
  ],
  [
    "a private room with a capacity",
    "service",
    (tx) => tx`insert into roomkit.rooms (kind, name, ai_mode, capacity) values ('private', 'P', 'off', 5)`,
    "23514",
    undefined,
  ],
  [
    "a coworking room with an AI mode",
    "service",
    (tx) =>
      tx`insert into roomkit.rooms (kind, name, capacity, ai_mode) values ('coworking', 'C', 5, 'always')`,
    "23514",
    undefined,
  ],
  // messages
  [
    "a message body of 4001 characters",
    "owner",
    (tx, w) => tx`select roomkit.send_message(${w.roomId}, ${long(4001)})`,
    "22023",
    "invalid_input",
  ],
  [
    "an empty message body",
    "owner",
    (tx, w) => tx`select roomkit.send_message(${w.roomId}, '')`,
    "22023",
    "invalid_input",
  ],
  [
    "a whitespace-only message body",
    "owner",
    (tx, w) => tx`select roomkit.send_message(${w.roomId}, ${"  \n\t "})`,
    "22023",
    "invalid_input",
  ],
  [
    "a null message body",
    "owner",
    (tx, w) => tx`select roomkit.send_message(${w.roomId}, null)`,
    "22023",
    "invalid_input",
  ],
  [
    "an emoji message of 33 characters",
    "owner",
    (tx, w) => tx`select roomkit.send_message(${w.roomId}, ${long(33)}, 'emoji')`,
    "22023",
    "invalid_input",
  ],
  [
    "an unknown message kind",
    "owner",
    (tx, w) => tx`select roomkit.send_message(${w.roomId}, 'x', ${"shout"})`,
    "22P02",
    undefined,
  ],
  [
    "a service-role insert (the table check still holds) with a 4001-character body",
    "service",
    (tx, w) =>
      tx`insert into roomkit.room_messages (room_id, sender_id, body) values (${w.roomId}, ${w.owner.id}, ${long(4001)})`,
    "23514",
    undefined,
  ],
  [
    "a service-role insert (the table check still holds) with a whitespace-only body",
    "service",
    (tx, w) =>
      tx`insert into roomkit.room_messages (room_id, sender_id, body) values (${w.roomId}, ${w.owner.id}, '   ')`,
    "23514",
    undefined,
  ],
  [
    "a service-role insert (the table check still holds) without a body",
    "service",
    (tx, w) => tx`insert into roomkit.room_messages (room_id, sender_id) values (${w.roomId}, ${w.owner.id})`,
    "23514",
    undefined,
  ],
  [
    "a message made only of invisible characters (zero-width, word joiner, BOM, Hangul filler)",
    "owner",
    (tx, w) => tx`select roomkit.send_message(${w.roomId}, ${"\u200b\u2060\ufeff\u3164 \u00a0"})`,
    "22023",
    "invalid_input",
  ],
  [
    "a room name made only of invisible characters",
    "owner",
    (tx) => tx`select roomkit.create_private_room(${"\u200b\u200c\u200d\u2800"})`,
    "22023",
    "invalid_input",
  ],
  [
    "a display name made only of invisible characters",
    "owner",
    (tx, w) =>
      tx`update roomkit.profiles set display_name = ${"\u200b\u2060\u3164"} where id = ${w.owner.id}`,
    "23514",
    undefined,
  ],
  [
    "message metadata over 4 KB (server-written, bounded all the same)",
    "service",
    (tx, w) =>
      tx`insert into roomkit.room_messages (room_id, kind, body, metadata)
         values (${w.roomId}, 'system', 'x', ${tx.json({ blob: "x".repeat(5000) })})`,
    "23514",
    undefined,
  ],
  [
    "the microphone switched on in a private room",
    "owner",
    (tx, w) => tx`select roomkit.set_mic(${w.roomId}, true)`,
    "22023",
    "invalid_input",
  ],
  // reactions
  [
    "an empty reaction",
    "owner",
    (tx, w) =>
      tx`insert into roomkit.message_reactions (message_id, user_id, emoji) values (${w.messageId}, ${w.owner.id}, '')`,
    "23514",
    undefined,
  ],
  [
    "a reaction of a newline",
    "owner",
    (tx, w) =>
      tx`insert into roomkit.message_reactions (message_id, user_id, emoji) values (${w.messageId}, ${w.owner.id}, ${"\n"})`,
    "23514",
    undefined,
  ],
  [
    "a 33-character reaction",
    "owner",
    (tx, w) =>
      tx`insert into roomkit.message_reactions (message_id, user_id, emoji) values (${w.messageId}, ${w.owner.id}, ${long(33)})`,
    "23514",
    undefined,
  ],
  // profiles
  [
    "an empty display name",
    "owner",
    (tx, w) => tx`update roomkit.profiles set display_name = '  ' where id = ${w.owner.id}`,
    "23514",
    undefined,
  ],
  [
    "a 51-character display name",
    "owner",
    (tx, w) => tx`update roomkit.profiles set display_name = ${long(51)} where id = ${w.owner.id}`,
    "23514",
    undefined,
  ],
  [
    "a 2049-character avatar URL",
    "owner",
    (tx, w) => tx`update roomkit.profiles set avatar_url = ${long(2049)} where id = ${w.owner.id}`,
    "23514",
    undefined,
  ],
  // malformed identifiers and values
  [
    "a room id that is not a UUID (join)",
    "owner",
    (tx) => tx`select roomkit.join_coworking_room(${"room-1"})`,
    "22P02",
    undefined,
  ],
  [
    "a room id that is not a UUID (send)",
    "owner",
    (tx) => tx`select roomkit.send_message(${"1 or 1=1"}, 'x')`,
    "22P02",
    undefined,
  ],
  [
    "an invite id that is not a UUID",
    "owner",
    (tx) => tx`select roomkit.accept_invite(${"abc"})`,
    "22P02",
    undefined,
  ],
  [
    "an invitee id that is not a UUID",
    "owner",
    (tx, w) => tx`select roomkit.send_invite(${w.roomId}, ${"not-a-user"})`,
    "22P02",
    undefined,
  ],
  [
    "a message id that is not a UUID",
    "owner",
    (tx) => tx`select roomkit.delete_message(${""})`,
    "22P02",
    undefined,
  ],
  [
    "an unknown member role",
    "owner",
    (tx, w) => tx`select roomkit.set_member_role(${w.roomId}, ${w.owner.id}, ${"king"})`,
    "22P02",
    undefined,
  ],
  [
    "a read marker that is not a time",
    "owner",
    (tx, w) => tx`select roomkit.mark_room_read(${w.roomId}, ${"yesterday-ish"}::text::timestamptz)`,
    "22007",
    undefined,
  ],
];

describe("bad input", () => {
  it.each(CASES)(
    "when a caller sends %s, then the call fails cleanly",
    async (_what, who, run, code, hint) => {
      const before = await fingerprint();
      const actor: Actor = who === "service" ? SERVICE : w.owner;
      const r = await attempt(db.sql, actor, (tx) => run(tx, w));
      expect(r.ok ? "succeeded" : { code: r.error.code, hint: r.error.hint ?? undefined }).toEqual({
        code,
        hint,
      });
      expect(await fingerprint()).toBe(before);
    },
  );

  it("when the name is exactly 100 characters and the body exactly 4000, then they are accepted", async () => {
    const room = await rpcOk<{ id: string; name: string }>(db.sql, w.owner, "create_private_room", {
      name: long(100),
    });
    expect(room.name).toHaveLength(100);
    const msg = await rpcOk<{ body: string }>(db.sql, w.owner, "send_message", {
      room_id: room.id,
      body: long(4000),
    });
    expect(msg.body).toHaveLength(4000);
  });
});
