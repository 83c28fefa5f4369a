import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANON, as, rpc, rpcOk, SERVICE } from "../support/acting.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { coworkingRoom } from "../support/rooms.ts";
import { insertUser, type User } from "../support/users.ts";

interface Room {
  id: string;
  kind: string;
  name: string;
  description: string | null;
  capacity: number | null;
  status: string;
  ai_mode: string | null;
  created_by: string | null;
}
interface Member {
  user_id: string;
  role: string;
  left_at: Date | null;
  mic_enabled: boolean;
}
interface Message {
  id: string;
  body: string | null;
  deleted_at: Date | null;
  created_at: Date;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

async function members(roomId: string): Promise<Record<string, { role: string; active: boolean }>> {
  const rows = await db.sql<{ user_id: string; role: string; active: boolean }[]>`
    select user_id, role, left_at is null as active from roomkit.room_members where room_id = ${roomId}`;
  return Object.fromEntries(rows.map((r) => [r.user_id, { role: r.role, active: r.active }]));
}

/** A private room: owner first, then each named user joins in their own transaction (distinct joined_at). */
async function room(
  ...cast: ("member" | "admin")[]
): Promise<{ roomId: string; owner: User; people: User[] }> {
  const owner = await insertUser(db.sql, { name: "Owner" });
  const r = await rpcOk<Room>(db.sql, owner, "create_private_room", { name: "Lifecycle" });
  const people: User[] = [];
  for (const role of cast) {
    const u = await insertUser(db.sql, { name: role });
    const inv = await rpcOk<{ id: string }>(db.sql, owner, "send_invite", {
      room_id: r.id,
      invitee_id: u.id,
    });
    await rpcOk(db.sql, u, "accept_invite", { invite_id: inv.id });
    if (role === "admin")
      await rpcOk(db.sql, owner, "set_member_role", { room_id: r.id, user_id: u.id, role });
    people.push(u);
  }
  return { roomId: r.id, owner, people };
}

async function roomExists(roomId: string): Promise<boolean> {
  const [row] = await db.sql<
    { n: number }[]
  >`select count(*)::int as n from roomkit.rooms where id = ${roomId}`;
  return row?.n === 1;
}

describe("creating private rooms", () => {
  it("when a user creates a room, then the name is trimmed, AI mode is mention and they are its owner", async () => {
    const ada = await insertUser(db.sql, { name: "Ada" });
    const r = await rpcOk<Room>(db.sql, ada, "create_private_room", {
      name: "  Book club  ",
      description: "  ",
    });
    expect(r).toMatchObject({
      kind: "private",
      name: "Book club",
      description: null,
      capacity: null,
      status: "active",
      ai_mode: "mention",
      created_by: ada.id,
    });
    expect(await members(r.id)).toEqual({ [ada.id]: { role: "owner", active: true } });
  });

  it("when a user picks an AI mode, then the room has it", async () => {
    const ada = await insertUser(db.sql);
    for (const mode of ["off", "always"]) {
      const r = await rpcOk<Room>(db.sql, ada, "create_private_room", { name: "AI", ai_mode: mode });
      expect(r.ai_mode).toBe(mode);
    }
  });

  it("when an owner updates name and AI mode directly, then the name is trimmed again", async () => {
    const { roomId, owner } = await room();
    const [r] = await as(
      db.sql,
      owner,
      (tx) =>
        tx<
          Room[]
        >`update roomkit.rooms set name = '  New name ', ai_mode = 'off' where id = ${roomId} returning *`,
    );
    expect(r).toMatchObject({ name: "New name", ai_mode: "off" });
  });
});

describe("leaving", () => {
  it("when the owner leaves, then the longest-standing admin becomes owner even if a member joined earlier", async () => {
    const { roomId, owner, people } = await room("member", "admin", "admin");
    const [member, firstAdmin, secondAdmin] = people as [User, User, User];
    await rpcOk(db.sql, owner, "leave_room", { room_id: roomId });
    expect(await members(roomId)).toEqual({
      [owner.id]: { role: "member", active: false },
      [member.id]: { role: "member", active: true },
      [firstAdmin.id]: { role: "owner", active: true },
      [secondAdmin.id]: { role: "admin", active: true },
    });
    const [msg] = await db.sql<{ body: string }[]>`
      select body from roomkit.room_messages where room_id = ${roomId} and metadata ->> 'event' = 'left'`;
    expect(msg?.body).toBe("Owner left");
  });

  it("when the owner leaves a room without admins, then the longest-standing member becomes owner", async () => {
    const { roomId, owner, people } = await room("member", "member");
    await rpcOk(db.sql, owner, "leave_room", { room_id: roomId });
    expect((await members(roomId))[people[0]!.id]).toEqual({ role: "owner", active: true });
    expect((await members(roomId))[people[1]!.id]).toEqual({ role: "member", active: true });
  });

  it("when the last member leaves, then the room is deleted", async () => {
    const { roomId, owner, people } = await room("member");
    await rpcOk(db.sql, people[0]!, "leave_room", { room_id: roomId });
    expect(await roomExists(roomId)).toBe(true);
    await rpcOk(db.sql, owner, "leave_room", { room_id: roomId });
    expect(await roomExists(roomId)).toBe(false);
  });

  it("when someone leaves a room twice, then the second call is a no-op", async () => {
    const { roomId, people } = await room("member");
    await rpcOk(db.sql, people[0]!, "leave_room", { room_id: roomId });
    expect(await rpc(db.sql, people[0]!, "leave_room", { room_id: roomId })).toMatchObject({ ok: true });
    const [row] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from roomkit.room_messages where room_id = ${roomId} and metadata ->> 'event' = 'left'`;
    expect(row?.n).toBe(1);
  });

  it("when someone who was never in the room leaves it, then 42501 not_member", async () => {
    const { roomId } = await room();
    const stranger = await insertUser(db.sql);
    expect(await rpc(db.sql, stranger, "leave_room", { room_id: roomId })).toMatchObject({
      ok: false,
      error: { code: "42501", hint: "not_member" },
    });
  });

  it("when a participant leaves a coworking room, then the room stays (even when empty)", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: 5 });
    const u = await insertUser(db.sql);
    await rpcOk(db.sql, u, "join_coworking_room", { room_id: roomId });
    await rpcOk(db.sql, u, "leave_room", { room_id: roomId });
    expect(await roomExists(roomId)).toBe(true);
  });
});

describe("removing members", () => {
  type Who = "owner" | "admin" | "member" | "outsider";
  it.each<[Who, "admin" | "member" | "owner" | "self", string]>([
    ["owner", "admin", "ok"],
    ["owner", "member", "ok"],
    ["owner", "self", "42501 forbidden"],
    ["admin", "member", "ok"],
    ["admin", "admin", "42501 forbidden"],
    ["admin", "owner", "42501 forbidden"],
    ["admin", "self", "42501 forbidden"],
    ["member", "member", "42501 forbidden"],
    ["member", "owner", "42501 forbidden"],
    ["outsider", "member", "42501 not_member"],
  ])("when the %s removes a(n) %s, then %s", async (who, target, expected) => {
    const { roomId, owner, people } = await room("admin", "admin", "member", "member");
    const [admin, admin2, member, member2] = people as [User, User, User, User];
    const outsider = await insertUser(db.sql);
    const actor = { owner, admin, member, outsider }[who];
    const victim = target === "self" ? actor : { admin: admin2, member: member2, owner }[target];
    const r = await rpc(db.sql, actor, "remove_member", { room_id: roomId, user_id: victim.id });
    const got = r.ok ? "ok" : `${r.error.code} ${r.error.hint}`;
    expect(got).toBe(expected);
    expect((await members(roomId))[victim.id]?.active).toBe(expected !== "ok");
    if (expected === "ok") {
      const seen = await as(
        db.sql,
        victim,
        (tx) => tx`select id from roomkit.room_messages where room_id = ${roomId}`,
      );
      expect(seen).toHaveLength(0);
    }
  });

  it("when the owner removes someone not in the room, then PT404 member_not_found", async () => {
    const { roomId, owner } = await room();
    const stranger = await insertUser(db.sql);
    expect(
      await rpc(db.sql, owner, "remove_member", { room_id: roomId, user_id: stranger.id }),
    ).toMatchObject({
      ok: false,
      error: { code: "PT404", hint: "member_not_found" },
    });
  });

  it("when a coworking participant removes another, then 42501 forbidden; the service role may", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: 5 });
    const [a, b] = [await insertUser(db.sql), await insertUser(db.sql, { name: "Bob" })];
    await rpcOk(db.sql, a, "join_coworking_room", { room_id: roomId });
    await rpcOk(db.sql, b, "join_coworking_room", { room_id: roomId });
    expect(await rpc(db.sql, a, "remove_member", { room_id: roomId, user_id: b.id })).toMatchObject({
      ok: false,
      error: { code: "42501", hint: "forbidden" },
    });
    await rpcOk(db.sql, SERVICE, "remove_member", { room_id: roomId, user_id: b.id });
    expect((await members(roomId))[b.id]?.active).toBe(false);
    const [msg] = await db.sql<{ body: string }[]>`
      select body from roomkit.room_messages where room_id = ${roomId} and metadata ->> 'event' = 'removed'`;
    expect(msg?.body).toBe("Bob was removed");
  });

  it("when a moderator removes a coworking participant, then they cannot rejoin for 15 minutes, and can after", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: 5 });
    const [kicked, bystander] = [await insertUser(db.sql), await insertUser(db.sql)];
    await rpcOk(db.sql, kicked, "join_coworking_room", { room_id: roomId });
    await rpcOk(db.sql, bystander, "join_coworking_room", { room_id: roomId });
    await rpcOk(db.sql, SERVICE, "remove_member", { room_id: roomId, user_id: kicked.id });
    expect(await rpc(db.sql, kicked, "join_coworking_room", { room_id: roomId })).toMatchObject({
      ok: false,
      error: { code: "42501", hint: "forbidden" },
    });
    await rpcOk(db.sql, bystander, "leave_room", { room_id: roomId });
    await rpcOk(db.sql, bystander, "join_coworking_room", { room_id: roomId });
    await db.sql`update roomkit.room_members set removed_until = now() - interval '1 second'
                 where room_id = ${roomId} and user_id = ${kicked.id}`;
    await rpcOk(db.sql, kicked, "join_coworking_room", { room_id: roomId });
    const [row] = await db.sql<{ active: boolean; removed_until: Date | null }[]>`
      select left_at is null as active, removed_until from roomkit.room_members
      where room_id = ${roomId} and user_id = ${kicked.id}`;
    expect(row).toEqual({ active: true, removed_until: null });
  });

  it("when a non-owner changes roles or the owner names a new owner, then it is refused", async () => {
    const { roomId, owner, people } = await room("admin", "member");
    const [admin, member] = people as [User, User];
    expect(
      await rpc(db.sql, admin, "set_member_role", { room_id: roomId, user_id: member.id, role: "admin" }),
    ).toMatchObject({ ok: false, error: { code: "42501", hint: "forbidden" } });
    expect(
      await rpc(db.sql, owner, "set_member_role", { room_id: roomId, user_id: member.id, role: "owner" }),
    ).toMatchObject({ ok: false, error: { code: "22023", hint: "invalid_input" } });
    expect((await members(roomId))[member.id]?.role).toBe("member");
  });
});

describe("deleting rooms", () => {
  it.each<["admin" | "member", string]>([
    ["admin", "42501 forbidden"],
    ["member", "42501 forbidden"],
  ])("when a(n) %s deletes the room, then %s and the room stays", async (who, expected) => {
    const { roomId, people } = await room("admin", "member");
    const actor = who === "admin" ? people[0]! : people[1]!;
    const r = await rpc(db.sql, actor, "delete_room", { room_id: roomId });
    expect(r.ok ? "ok" : `${r.error.code} ${r.error.hint}`).toBe(expected);
    expect(await roomExists(roomId)).toBe(true);
  });

  it("when an outsider deletes the room, then PT404 room_not_found (the room's existence is not revealed)", async () => {
    const { roomId } = await room();
    const outsider = await insertUser(db.sql);
    expect(await rpc(db.sql, outsider, "delete_room", { room_id: roomId })).toMatchObject({
      ok: false,
      error: { code: "PT404", hint: "room_not_found" },
    });
    expect(await roomExists(roomId)).toBe(true);
  });

  it("when a coworking participant deletes the room, then 42501 forbidden", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: 5 });
    const u = await insertUser(db.sql);
    await rpcOk(db.sql, u, "join_coworking_room", { room_id: roomId });
    expect(await rpc(db.sql, u, "delete_room", { room_id: roomId })).toMatchObject({
      ok: false,
      error: { code: "42501", hint: "forbidden" },
    });
  });

  it("when the owner deletes the room, then the room, members, invites and messages are gone", async () => {
    const { roomId, owner } = await room("member");
    const guest = await insertUser(db.sql);
    await rpcOk(db.sql, owner, "send_invite", { room_id: roomId, invitee_id: guest.id });
    await rpcOk(db.sql, owner, "send_message", { room_id: roomId, body: "bye" });
    await rpcOk(db.sql, owner, "delete_room", { room_id: roomId });
    const [left] = await db.sql<{ n: number }[]>`
      select (select count(*) from roomkit.rooms where id = ${roomId})
           + (select count(*) from roomkit.room_members where room_id = ${roomId})
           + (select count(*) from roomkit.room_invites where room_id = ${roomId})
           + (select count(*) from roomkit.room_messages where room_id = ${roomId}) as n`;
    expect(Number(left?.n)).toBe(0);
  });
});

describe("microphone", () => {
  it("when a participant turns the mic on and off, then their row says so", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: 5 });
    const u = await insertUser(db.sql);
    await rpcOk(db.sql, u, "join_coworking_room", { room_id: roomId });
    expect(await rpcOk<Member>(db.sql, u, "set_mic", { room_id: roomId, enabled: true })).toMatchObject({
      mic_enabled: true,
    });
    expect(await rpcOk<Member>(db.sql, u, "set_mic", { room_id: roomId, enabled: false })).toMatchObject({
      mic_enabled: false,
    });
  });

  it("when someone not in the room sets the mic, then 42501 not_member; null is 22023", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: 5 });
    const u = await insertUser(db.sql);
    expect(await rpc(db.sql, u, "set_mic", { room_id: roomId, enabled: true })).toMatchObject({
      ok: false,
      error: { code: "42501", hint: "not_member" },
    });
    await rpcOk(db.sql, u, "join_coworking_room", { room_id: roomId });
    expect(await rpc(db.sql, u, "set_mic", { room_id: roomId, enabled: null })).toMatchObject({
      ok: false,
      error: { code: "22023", hint: "invalid_input" },
    });
  });

  it("when a participant leaves with the mic on, then it is off when they come back", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: 5 });
    const u = await insertUser(db.sql);
    await rpcOk(db.sql, u, "join_coworking_room", { room_id: roomId });
    await rpcOk(db.sql, u, "set_mic", { room_id: roomId, enabled: true });
    await rpcOk(db.sql, u, "leave_room", { room_id: roomId });
    expect(await rpcOk<Member>(db.sql, u, "join_coworking_room", { room_id: roomId })).toMatchObject({
      mic_enabled: false,
      left_at: null,
    });
  });
});

describe("coworking joins", () => {
  it("when a room is made inactive, then joining is PT409 room_inactive and those who were in are out (403 not_member)", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: 5 });
    const [inside, late] = [await insertUser(db.sql), await insertUser(db.sql)];
    await rpcOk(db.sql, inside, "join_coworking_room", { room_id: roomId });
    await db.sql`update roomkit.rooms set status = 'inactive' where id = ${roomId}`;
    expect(await rpc(db.sql, late, "join_coworking_room", { room_id: roomId })).toMatchObject({
      ok: false,
      error: { code: "PT409", hint: "room_inactive" },
    });
    expect(await rpc(db.sql, inside, "send_message", { room_id: roomId, body: "hi" })).toMatchObject({
      ok: false,
      error: { code: "42501", hint: "not_member" },
    });
  });

  it("when someone joins a private room id or a missing room as coworking, then PT404 room_not_found", async () => {
    const { roomId } = await room();
    const u = await insertUser(db.sql);
    for (const id of [roomId, crypto.randomUUID()]) {
      expect(await rpc(db.sql, u, "join_coworking_room", { room_id: id })).toMatchObject({
        ok: false,
        error: { code: "PT404", hint: "room_not_found" },
      });
    }
  });

  it("when anyone lists coworking rooms, then the seeded rooms appear with live counts", async () => {
    const rows = await as(
      db.sql,
      ANON,
      (tx) => tx<{ name: string; capacity: number; participant_count: number }[]>`
        select name, capacity, participant_count from roomkit.list_coworking_rooms()
        where name in ('Focus Zone', 'Creative Studio', 'Study Hall', 'Coffee Break', 'Sprint Room')`,
    );
    expect(rows.every((r) => r.participant_count === 0)).toBe(true);
    expect(Object.fromEntries(rows.map((r) => [r.name, r.capacity]))).toEqual({
      "Focus Zone": 10,
      "Creative Studio": 15,
      "Study Hall": 20,
      "Coffee Break": 12,
      "Sprint Room": 8,
    });
  });
});

describe("messages", () => {
  it("when a member sends text and emoji, then both are stored as theirs", async () => {
    const { roomId, owner } = await room();
    const text = await rpcOk<Message & { kind: string }>(db.sql, owner, "send_message", {
      room_id: roomId,
      body: "hi",
    });
    const emoji = await rpcOk<Message & { kind: string }>(db.sql, owner, "send_message", {
      room_id: roomId,
      body: "🎉",
      kind: "emoji",
    });
    expect([text.kind, emoji.kind]).toEqual(["text", "emoji"]);
  });

  it("when an outsider or former member sends, then 42501 not_member; a system message is 22023", async () => {
    const { roomId, owner, people } = await room("member");
    const former = people[0]!;
    await rpcOk(db.sql, former, "leave_room", { room_id: roomId });
    const outsider = await insertUser(db.sql);
    for (const u of [outsider, former]) {
      expect(await rpc(db.sql, u, "send_message", { room_id: roomId, body: "let me in" })).toMatchObject({
        ok: false,
        error: { code: "42501", hint: "not_member" },
      });
    }
    expect(
      await rpc(db.sql, owner, "send_message", { room_id: roomId, body: "x", kind: "system" }),
    ).toMatchObject({
      ok: false,
      error: { code: "22023", hint: "invalid_input" },
    });
  });

  it("when the sender deletes a message, then its body is gone, again is a no-op, and others get message_not_found", async () => {
    const { roomId, owner, people } = await room("admin");
    const admin = people[0]!;
    const msg = await rpcOk<Message>(db.sql, owner, "send_message", { room_id: roomId, body: "secret" });
    expect(await rpc(db.sql, admin, "delete_message", { message_id: msg.id })).toMatchObject({
      ok: false,
      error: { code: "PT404", hint: "message_not_found" },
    });
    const deleted = await rpcOk<Message>(db.sql, owner, "delete_message", { message_id: msg.id });
    expect(deleted).toMatchObject({ id: msg.id, body: null });
    expect(deleted.deleted_at).not.toBeNull();
    expect(await rpcOk<Message>(db.sql, owner, "delete_message", { message_id: msg.id })).toEqual(deleted);
    expect(await rpc(db.sql, owner, "delete_message", { message_id: crypto.randomUUID() })).toMatchObject({
      ok: false,
      error: { code: "PT404", hint: "message_not_found" },
    });
  });
});

describe("unread counts", () => {
  async function unread(u: User): Promise<Record<string, number>> {
    const rows = await as(
      db.sql,
      u,
      (tx) => tx<{ room_id: string; unread_count: string }[]>`select * from roomkit.room_unread_counts()`,
    );
    return Object.fromEntries(rows.map((r) => [r.room_id, Number(r.unread_count)]));
  }

  it("when others write, then unread counts grow; own, deleted and read messages do not count", async () => {
    const { roomId, owner, people } = await room("member");
    const bea = people[0]!;
    await rpcOk(db.sql, owner, "mark_room_read", { room_id: roomId });
    await rpcOk(db.sql, bea, "mark_room_read", { room_id: roomId });
    const sent: Message[] = [];
    for (const body of ["one", "two", "three"]) {
      sent.push(await rpcOk<Message>(db.sql, bea, "send_message", { room_id: roomId, body }));
    }
    await rpcOk(db.sql, owner, "send_message", { room_id: roomId, body: "mine" });
    expect((await unread(owner))[roomId]).toBe(3);
    expect((await unread(bea))[roomId]).toBe(1);

    await rpcOk(db.sql, bea, "delete_message", { message_id: sent[2]!.id });
    expect((await unread(owner))[roomId]).toBe(2);

    // The marker goes in as text: postgres.js sends timestamptz parameters through a JS Date, which
    // drops the microseconds (PostgREST's JSON keeps them).
    await as(
      db.sql,
      owner,
      (tx) => tx`
      select roomkit.mark_room_read(${roomId}, (select created_at from roomkit.room_messages where id = ${sent[0]!.id}))`,
    );
    expect((await unread(owner))[roomId]).toBe(1);
    // Never backwards: an older marker keeps the newer one.
    await rpcOk(db.sql, owner, "mark_room_read", { room_id: roomId, at: new Date(0) });
    expect((await unread(owner))[roomId]).toBe(1);
    await rpcOk(db.sql, owner, "mark_room_read", { room_id: roomId });
    expect((await unread(owner))[roomId]).toBe(0);
  });

  it("when a user marks a room read in the future, then the marker stops at now and later messages still count", async () => {
    const { roomId, owner, people } = await room("member");
    await rpcOk(db.sql, owner, "mark_room_read", { room_id: roomId, at: new Date(Date.now() + 86_400_000) });
    await rpcOk(db.sql, people[0]!, "send_message", { room_id: roomId, body: "later" });
    expect((await unread(owner))[roomId]).toBe(1);
  });

  it("when someone not in the room marks it read, then 42501 not_member, and it is absent from their counts", async () => {
    const { roomId } = await room();
    const stranger = await insertUser(db.sql);
    expect(await rpc(db.sql, stranger, "mark_room_read", { room_id: roomId })).toMatchObject({
      ok: false,
      error: { code: "42501", hint: "not_member" },
    });
    expect(await unread(stranger)).toEqual({});
  });
});

describe("history pagination", () => {
  it("when many messages share one timestamp, then keyset pages by (created_at, id) newest first see each exactly once", async () => {
    const { roomId, owner } = await room();
    // Two batches, each in ONE transaction: created_at ties inside each batch.
    for (const batch of ["a", "b"]) {
      await as(db.sql, owner, async (tx) => {
        for (let i = 0; i < 35; i++) await tx`select roomkit.send_message(${roomId}, ${`${batch}${i}`})`;
      });
    }
    const [ties] = await db.sql<{ distinct_times: number; n: number }[]>`
      select count(distinct created_at)::int as distinct_times, count(*)::int as n
      from roomkit.room_messages where room_id = ${roomId} and kind = 'text'`;
    expect(ties).toEqual({ distinct_times: 2, n: 70 });

    // Cursors keep created_at as Postgres prints it (microseconds), as PostgREST's JSON does; a JS Date
    // (postgres.js's timestamptz parameters included) rounds to milliseconds and skips the rest of a tie group.
    type Row = { id: string; body: string; created_at: string };
    const seen: Row[] = [];
    let cursor: Row | null = null;
    for (let page = 0; page < 20; page++) {
      const c: Row | null = cursor;
      const rows: Row[] = await as(
        db.sql,
        owner,
        (tx) => tx<Row[]>`
          select id, body, created_at::text as created_at from roomkit.room_messages
          where room_id = ${roomId} and kind = 'text'
            ${c ? tx`and (created_at, id) < (${c.created_at}::text::timestamptz, ${c.id}::uuid)` : tx``}
          order by room_messages.created_at desc, id desc limit 8`,
      );
      if (rows.length === 0) break;
      seen.push(...rows);
      cursor = rows[rows.length - 1]!;
    }
    expect(seen).toHaveLength(70);
    expect(new Set(seen.map((m) => m.id)).size).toBe(70);
    expect(seen.slice(0, 35).every((m) => m.body.startsWith("b"))).toBe(true);
    const keys = seen.map((m) => `${m.created_at}|${m.id}`);
    expect(keys).toEqual([...keys].sort().reverse());
  });

  it("when a page is fetched by (created_at, id), then Postgres can use the pagination index", async () => {
    const { roomId, owner } = await room();
    const plan = await as(db.sql, owner, async (tx) => {
      await tx`set local enable_seqscan = off`;
      return tx.unsafe(
        `explain select id from roomkit.room_messages where room_id = $1 and (created_at, id) < (now(), $1::uuid)
         order by created_at desc, id desc limit 50`,
        [roomId],
      );
    });
    expect(plan.map((r) => String(r["QUERY PLAN"])).join("\n")).toContain("room_messages_page_idx");
  });
});
