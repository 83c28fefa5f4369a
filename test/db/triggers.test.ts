/**
 * Database triggers: what lands in realtime.messages (and so reaches Realtime subscribers) for each
 * change, and the profile every new auth user gets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { as, rpcOk, SERVICE } from "../support/acting.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { coworkingRoom, privateRoom } from "../support/rooms.ts";
import { insertUser, insertUsers, type User } from "../support/users.ts";

interface Broadcast {
  id: string;
  topic: string;
  event: string;
  extension: string;
  private: boolean;
  payload: Record<string, unknown> & {
    record?: Record<string, unknown> | null;
    old_record?: Record<string, unknown> | null;
  };
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

async function broadcasts(topic: string, event?: string): Promise<Broadcast[]> {
  return db.sql<Broadcast[]>`
    select id, topic, event, extension, private, payload from realtime.messages
    where topic = ${topic} and (${event ?? null}::text is null or event = ${event ?? null}::text)
    order by inserted_at, id`;
}

async function roomWith(...names: string[]): Promise<{ owner: User; others: User[]; roomId: string }> {
  const [owner, ...others] = await insertUsers(
    db.sql,
    ["Owner", ...names].map((name) => ({ name })),
  );
  const roomId = await privateRoom(db.sql, owner!, { name: "Triggers", members: others });
  return { owner: owner!, others, roomId };
}

describe("room messages", () => {
  it("when a member sends a message, then exactly one message.insert with the broadcast_changes shape goes to room:<id>", async () => {
    const { owner, roomId } = await roomWith();
    const msg = await rpcOk<{ id: string }>(db.sql, owner, "send_message", {
      room_id: roomId,
      body: "hello",
    });
    const sent = (await broadcasts(`room:${roomId}:1`)).filter((b) => b.payload.record?.id === msg.id);
    expect(sent).toHaveLength(1);
    const [b] = sent;
    expect(b).toMatchObject({ event: "message.insert", extension: "broadcast", private: true });
    expect(Object.keys(b!.payload).sort()).toEqual([
      "id",
      "old_record",
      "operation",
      "record",
      "schema",
      "table",
    ]);
    expect(b!.payload).toMatchObject({
      id: b!.id,
      operation: "INSERT",
      old_record: null,
      table: "room_messages",
      schema: "roomkit",
      record: {
        id: msg.id,
        room_id: roomId,
        sender_id: owner.id,
        kind: "text",
        body: "hello",
        deleted_at: null,
      },
    });
  });

  it("when the service role inserts a message directly (not through send_message), then it is broadcast the same way", async () => {
    const { owner, roomId } = await roomWith();
    const [row] = await as(
      db.sql,
      SERVICE,
      (tx) => tx<{ id: string }[]>`insert into roomkit.room_messages (room_id, sender_id, body)
                                   values (${roomId}, ${owner.id}, 'direct') returning id`,
    );
    const sent = await broadcasts(`room:${roomId}:1`, "message.insert");
    expect(sent.filter((b) => b.payload.record?.id === row?.id)).toHaveLength(1);
  });

  it("when a message is deleted, then message.update carries the old body and the cleared record", async () => {
    const { owner, roomId } = await roomWith();
    const msg = await rpcOk<{ id: string }>(db.sql, owner, "send_message", { room_id: roomId, body: "oops" });
    await rpcOk(db.sql, owner, "delete_message", { message_id: msg.id });
    const [b, ...rest] = (await broadcasts(`room:${roomId}:1`, "message.update")).filter(
      (x) => x.payload.record?.id === msg.id,
    );
    expect(rest).toHaveLength(0);
    expect(b?.payload).toMatchObject({
      operation: "UPDATE",
      old_record: { id: msg.id, body: "oops", deleted_at: null },
      record: { id: msg.id, body: null },
    });
    expect(b?.payload.record?.deleted_at).not.toBeNull();
  });
});

describe("reactions", () => {
  it("when a member reacts and un-reacts, then reaction.insert and reaction.delete reach the room, with room_id filled in", async () => {
    const { owner, others, roomId } = await roomWith("Bea");
    const bea = others[0]!;
    const msg = await rpcOk<{ id: string }>(db.sql, owner, "send_message", {
      room_id: roomId,
      body: "react to me",
    });
    await as(
      db.sql,
      bea,
      (tx) =>
        tx`insert into roomkit.message_reactions (message_id, user_id, emoji) values (${msg.id}, ${bea.id}, '🎉')`,
    );
    await as(
      db.sql,
      bea,
      (tx) => tx`delete from roomkit.message_reactions where message_id = ${msg.id} and user_id = ${bea.id}`,
    );
    const events = (await broadcasts(`room:${roomId}:1`)).filter((b) => b.event.startsWith("reaction."));
    expect(events.map((e) => e.event)).toEqual(["reaction.insert", "reaction.delete"]);
    expect(events[0]?.payload.record).toMatchObject({
      message_id: msg.id,
      user_id: bea.id,
      emoji: "🎉",
      room_id: roomId,
    });
    expect(events[1]?.payload).toMatchObject({
      operation: "DELETE",
      record: null,
      old_record: { emoji: "🎉" },
    });
  });

  it("when the service role inserts a reaction with a wrong room_id, then the trigger corrects it from the message", async () => {
    const { owner, roomId } = await roomWith();
    const other = await roomWith();
    const msg = await rpcOk<{ id: string }>(db.sql, owner, "send_message", { room_id: roomId, body: "x" });
    await db.sql`insert into roomkit.message_reactions (message_id, user_id, emoji, room_id)
                 values (${msg.id}, ${owner.id}, '👍', ${other.roomId})`;
    const [row] = await db.sql<{ room_id: string }[]>`
      select room_id from roomkit.message_reactions where message_id = ${msg.id}`;
    expect(row?.room_id).toBe(roomId);
  });
});

describe("membership and invites", () => {
  it("when an invite is sent, then invite.insert goes to user:<invitee> and nothing about it to the room", async () => {
    const { owner, roomId } = await roomWith();
    const guest = await insertUser(db.sql, { name: "Guest" });
    const inv = await rpcOk<{ id: string }>(db.sql, owner, "send_invite", {
      room_id: roomId,
      invitee_id: guest.id,
    });
    const toUser = await broadcasts(`user:${guest.id}`);
    expect(toUser).toHaveLength(1);
    expect(toUser[0]).toMatchObject({
      event: "invite.insert",
      private: true,
      payload: { operation: "INSERT", table: "room_invites", record: { id: inv.id, status: "pending" } },
    });
    expect((await broadcasts(`room:${roomId}:1`)).filter((b) => b.event.startsWith("invite."))).toHaveLength(
      0,
    );
  });

  it("when an invite is accepted, then invite.update reaches the invitee and the room, and member.insert reaches the room", async () => {
    const { owner, roomId } = await roomWith();
    const guest = await insertUser(db.sql, { name: "Guest" });
    const inv = await rpcOk<{ id: string }>(db.sql, owner, "send_invite", {
      room_id: roomId,
      invitee_id: guest.id,
    });
    await rpcOk(db.sql, guest, "accept_invite", { invite_id: inv.id });
    expect((await broadcasts(`user:${guest.id}`)).map((b) => b.event)).toEqual([
      "invite.insert",
      "invite.update",
    ]);
    const room = await broadcasts(`room:${roomId}:1`);
    const inviteUpdate = room.filter((b) => b.event === "invite.update");
    expect(inviteUpdate).toHaveLength(1);
    expect(inviteUpdate[0]?.payload).toMatchObject({
      old_record: { status: "pending" },
      record: { status: "accepted" },
    });
    const memberInsert = room.filter(
      (b) => b.event === "member.insert" && b.payload.record?.user_id === guest.id,
    );
    expect(memberInsert).toHaveLength(1);
  });

  it("when a member leaves, then member.update with left_at set reaches the room", async () => {
    const { roomId, others } = await roomWith("Bea");
    const bea = others[0]!;
    await rpcOk(db.sql, bea, "leave_room", { room_id: roomId });
    const updates = (await broadcasts(`room:${roomId}:1`, "member.update")).filter(
      (b) => b.payload.record?.user_id === bea.id,
    );
    expect(updates).toHaveLength(1);
    expect(updates[0]?.payload.old_record?.left_at).toBeNull();
    expect(updates[0]?.payload.record?.left_at).not.toBeNull();
  });
});

describe("coworking lobby", () => {
  it("when people join and leave a coworking room, then coworking:lobby gets private room.count messages with the live count", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: 5, name: "Lobby count" });
    const [a, b] = [await insertUser(db.sql), await insertUser(db.sql)];
    const before = (await broadcasts("coworking:lobby")).length;
    await rpcOk(db.sql, a, "join_coworking_room", { room_id: roomId });
    await rpcOk(db.sql, b, "join_coworking_room", { room_id: roomId });
    await rpcOk(db.sql, a, "set_mic", { room_id: roomId, enabled: true });
    await rpcOk(db.sql, a, "leave_room", { room_id: roomId });
    const counts = (await broadcasts("coworking:lobby"))
      .slice(before)
      .filter((m) => m.payload.room_id === roomId);
    expect(counts.map((m) => [m.event, m.private, m.payload.participant_count])).toEqual([
      ["room.count", true, 1],
      ["room.count", true, 2],
      ["room.count", true, 1],
    ]);
    expect(Object.keys(counts[0]!.payload).sort()).toEqual(["id", "participant_count", "room_id"]);
  });

  it("when a private room's membership changes, then nothing goes to the lobby", async () => {
    const before = (await broadcasts("coworking:lobby")).length;
    const { roomId } = await roomWith("Bea");
    const after = (await broadcasts("coworking:lobby")).slice(before);
    expect(after.filter((m) => m.payload.room_id === roomId)).toHaveLength(0);
  });
});

describe("rooms", () => {
  it("when an owner renames a room, then room.update reaches the room", async () => {
    const { owner, roomId } = await roomWith();
    await as(db.sql, owner, (tx) => tx`update roomkit.rooms set name = 'Renamed' where id = ${roomId}`);
    const updates = await broadcasts(`room:${roomId}:1`, "room.update");
    expect(updates).toHaveLength(1);
    expect(updates[0]?.payload).toMatchObject({
      old_record: { name: "Triggers" },
      record: { name: "Renamed" },
    });
  });

  it("when a room with history is deleted, then exactly one room.delete goes out and no per-row deletes", async () => {
    const { owner, others, roomId } = await roomWith("Bea", "Cy");
    for (let i = 0; i < 5; i++) {
      const m = await rpcOk<{ id: string }>(db.sql, owner, "send_message", {
        room_id: roomId,
        body: `m${i}`,
      });
      for (const u of others) {
        await db.sql`insert into roomkit.message_reactions (message_id, user_id, emoji) values (${m.id}, ${u.id}, '👍')`;
      }
    }
    const before = (await broadcasts(`room:${roomId}:1`)).length;
    await rpcOk(db.sql, owner, "delete_room", { room_id: roomId });
    const after = (await broadcasts(`room:${roomId}:1`)).slice(before);
    expect(after.map((b) => b.event)).toEqual(["room.delete"]);
    expect(after[0]?.payload).toMatchObject({
      operation: "DELETE",
      record: null,
      old_record: { id: roomId },
    });
  });

  it("when the last member leaves a private room, then the room is deleted and room.delete goes out", async () => {
    const { owner, roomId } = await roomWith();
    await rpcOk(db.sql, owner, "leave_room", { room_id: roomId });
    const [{ n } = { n: -1 }] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from roomkit.rooms where id = ${roomId}`;
    expect(n).toBe(0);
    expect((await broadcasts(`room:${roomId}:1`, "room.delete")).length).toBe(1);
  });
});

describe("profiles for new auth users", () => {
  async function profileAfterSignup(email: string | null, meta: Record<string, unknown>) {
    const id = crypto.randomUUID();
    await db.sql`insert into auth.users (instance_id, id, aud, role, email, raw_user_meta_data, raw_app_meta_data)
                 values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', 'authenticated',
                         ${email}, ${db.sql.json(meta as never)}, '{}'::jsonb)`;
    const [p] = await db.sql<{ display_name: string; avatar_url: string | null; is_ai: boolean }[]>`
      select display_name, avatar_url, is_ai from roomkit.profiles where id = ${id}`;
    return p;
  }

  it.each<[string, string | null, Record<string, unknown>, string]>([
    ["display_name metadata", "ada@example.test", { display_name: "  Ada Lovelace " }, "Ada Lovelace"],
    ["full_name metadata (OAuth)", "grace@example.test", { full_name: "Grace Hopper" }, "Grace Hopper"],
    ["name metadata", "alan@example.test", { name: "Alan" }, "Alan"],
    ["only an email", "linus.t@example.test", {}, "linus.t"],
    ["blank metadata and an email", "ken@example.test", { display_name: "   " }, "ken"],
    ["a name of tabs and newlines", "tab@example.test", { display_name: "\t\n", full_name: "\u00a0" }, "tab"],
    ["no email and no metadata (phone sign-up)", null, {}, "Guest"],
    ["an overlong name", "long@example.test", { display_name: "x".repeat(80) }, "x".repeat(50)],
  ])(
    "when a user signs up with %s, then the profile name is derived from it",
    async (_case, email, meta, name) => {
      const p = await profileAfterSignup(email, meta);
      expect(p).toMatchObject({ display_name: name, is_ai: false });
    },
  );

  it("when sign-up metadata has an avatar_url, then the profile has it", async () => {
    const p = await profileAfterSignup("pic@example.test", { avatar_url: "https://example.test/a.png" });
    expect(p?.avatar_url).toBe("https://example.test/a.png");
  });

  it("when the AI participant is looked up, then it has a profile flagged is_ai", async () => {
    const [ai] = await db.sql<{ display_name: string; is_ai: boolean }[]>`
      select display_name, is_ai from roomkit.profiles where id = roomkit_private.ai_user_id()`;
    expect(ai).toEqual({ display_name: "Roomkit AI", is_ai: true });
  });
});
