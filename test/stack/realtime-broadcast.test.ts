import { describe, expect, it } from "vitest";
import { signToken } from "../support/users.ts";
import { eventually } from "../support/wait.ts";
import {
  createRoom,
  expectReadRefused,
  httpBroadcast,
  insertMessage,
  join,
  useRealtimeStack,
} from "./realtime-support.ts";

const rt = useRealtimeStack();

/** Two users, the first owning a private room with the second as member; each signed in. */
async function pairInRoom() {
  const [alice, bob] = await rt.users(2);
  const roomId = await createRoom(rt.sql, alice, [bob]);
  return { alice, bob, roomId, a: await rt.connect(alice), b: await rt.connect(bob) };
}

describe("realtime broadcast", () => {
  it("when two members share a private room, then each receives the other's broadcasts on room:<id>:live and an outsider is refused", async () => {
    const { roomId, a, b } = await pairInRoom();
    const [eve] = await rt.users(1);
    const topic = `room:${roomId}:1:live`;
    const e = await rt.connect(eve);
    const { channel: chA, got: gotA } = await join(a, topic, { events: ["typing"] });
    const { channel: chB, got: gotB } = await join(b, topic, { events: ["typing"] });

    expect(await chA.send({ type: "broadcast", event: "typing", payload: { who: "alice" } })).toBe("ok");
    expect(await chB.send({ type: "broadcast", event: "typing", payload: { who: "bob" } })).toBe("ok");
    await eventually(() => gotA.length === 1 && gotB.length === 1, 2000, "both broadcasts");

    expect(gotB[0]).toMatchObject({ event: "typing", payload: { who: "alice" } });
    expect(gotA[0]).toMatchObject({ event: "typing", payload: { who: "bob" } });
    await expectReadRefused(e, topic);
  });

  it("when a channel uses self:false, then the sender does not get its own message, and with ack:true send resolves ok after delivery", async () => {
    const { roomId, a, b } = await pairInRoom();
    const topic = `room:${roomId}:1:live`;
    const { channel: chA, got: gotA } = await join(a, topic, {
      events: ["reaction"],
      broadcast: { self: false, ack: true },
    });
    const { channel: chB, got: gotB } = await join(b, topic, {
      events: ["reaction"],
      broadcast: { self: true },
    });

    expect(await chA.send({ type: "broadcast", event: "reaction", payload: { emoji: "🎉" } })).toBe("ok");
    await eventually(() => gotB.length === 1, 2000, "bob's copy");
    await chB.send({ type: "broadcast", event: "reaction", payload: { emoji: "👍" } });
    // Alice's copy of Bob's later message is the sentinel: her own would have come before it.
    await eventually(() => gotB.length >= 2 && gotA.length >= 1, 2000, "bob's own message and alice's copy");

    expect(gotA.map((m) => m.payload.emoji)).toEqual(["👍"]);
    expect(gotB.map((m) => m.payload.emoji)).toEqual(["🎉", "👍"]);
  });

  it("when public and private channels share a name, then their broadcasts stay apart", async () => {
    const { roomId, a, b } = await pairInRoom();
    const topic = `room:${roomId}:1:live`;
    const { channel: chPrivate } = await join(a, topic, { broadcast: { ack: true } });
    const { channel: chPublic, got: gotPublic } = await join(b, topic, {
      private: false,
      events: ["*"],
      broadcast: { self: true, ack: true },
    });

    expect(await chPrivate.send({ type: "broadcast", event: "secret", payload: { x: 1 } })).toBe("ok");
    // The sentinel: a public message sent after the private one was acknowledged (fanned out).
    expect(await chPublic.send({ type: "broadcast", event: "sentinel", payload: {} })).toBe("ok");
    await eventually(() => gotPublic.length >= 1, 2000, "the public sentinel");

    expect(gotPublic.map((m) => m.event)).toEqual(["sentinel"]);
  });

  it("when someone who may read but not write sends on a private channel, then the message is dropped and an ack never comes", async () => {
    const [alice, bob] = await rt.users(2);
    const roomId = await createRoom(rt.sql, alice, [bob]);
    // A user topic: readable by its owner only, and nobody may send on it.
    const topic = `user:${alice.id}`;
    const a = await rt.connect(alice);
    const a2 = await rt.connect(alice);
    const { got } = await join(a2, topic, { events: ["spoof"] });
    const { channel: sender } = await join(a, topic, { broadcast: { ack: true } });

    const sent = await sender.send(
      { type: "broadcast", event: "spoof", payload: { roomId } },
      { timeout: 500 },
    );

    expect(sent).toBe("timed out");
    expect(got).toEqual([]);
  });

  it("when a payload exceeds the 3 000 KB limit, then an acked send reports an error and nobody receives it", async () => {
    const { roomId, a, b } = await pairInRoom();
    const topic = `room:${roomId}:1:live`;
    const { channel: chA } = await join(a, topic, { broadcast: { ack: true } });
    const { got } = await join(b, topic, { events: ["big", "small"] });

    const big = "x".repeat(3000 * 1024 + 600);
    expect(await chA.send({ type: "broadcast", event: "big", payload: { big } })).toBe("error");
    expect(await chA.send({ type: "broadcast", event: "small", payload: { ok: true } })).toBe("ok");
    await eventually(() => got.length === 1, 2000, "the small message");

    expect(got.map((m) => m.event)).toEqual(["small"]);
  });

  it("when a member broadcasts over HTTP (httpSend and the batch endpoint), then subscribers receive it and an outsider's HTTP send is silently skipped", async () => {
    const { alice, roomId, a, b } = await pairInRoom();
    const [eve] = await rt.users(1);
    const topic = `room:${roomId}:1:live`;
    const eveToken = await eve.token();
    const { got } = await join(b, topic, { events: ["note"] });

    const viaHttp = a.channel(topic, { config: { private: true } });
    expect(await viaHttp.httpSend("note", { n: 1 })).toEqual({ success: true });
    const batch = await httpBroadcast(rt.stack, eveToken, [
      { topic, event: "note", payload: { n: 666 }, private: true },
    ]);
    expect(batch.status).toBe(202);
    const mine = await httpBroadcast(rt.stack, await alice.token(), [
      { topic, event: "note", payload: { n: 2 }, private: true, id: "m-2" },
    ]);
    expect(mine.status).toBe(202);
    // Alice's second send is the sentinel: Eve's, sent before it, would have arrived first.
    await eventually(() => got.length >= 2, 2000, "two HTTP broadcasts");

    expect(got.map((m) => m.payload.n)).toEqual([1, 2]);
    expect(got[1]?.meta).toEqual({ id: "m-2" });
  });
});

describe("realtime topics clients may not write", () => {
  it("when a member broadcasts a fake message.insert on room:<id>, then no other member receives it and an ack never comes", async () => {
    const [alice, bob, mallory] = await rt.users(3);
    const roomId = await createRoom(rt.sql, alice, [bob, mallory]);
    const topic = `room:${roomId}:1`;
    const b = await rt.connect(bob);
    const m = await rt.connect(mallory);
    // Only the forged event names: the room's own member.insert rows may still be on their way.
    const { got } = await join(b, topic, { events: ["message.insert", "room.delete"] });
    // Mallory may still read the room's database events.
    const { channel: chM } = await join(m, topic, { broadcast: { ack: true } });
    const forged = {
      operation: "INSERT",
      table: "room_messages",
      schema: "roomkit",
      record: {
        id: crypto.randomUUID(),
        room_id: roomId,
        sender_id: alice.id,
        body: "send me your password",
      },
      old_record: null,
    };

    expect(
      await chM.send({ type: "broadcast", event: "message.insert", payload: forged }, { timeout: 500 }),
    ).toBe("timed out");
    expect(
      await chM.send(
        { type: "broadcast", event: "room.delete", payload: { operation: "DELETE" } },
        { timeout: 500 },
      ),
    ).toBe("timed out");
    const overHttp = await httpBroadcast(rt.stack, await mallory.token(), [
      { topic, event: "message.insert", payload: forged, private: true },
    ]);
    expect(overHttp.status).toBe(202);
    // The database's own broadcasts still arrive.
    await insertMessage(rt.sql, roomId, alice.id, "real");
    // The sentinel: the forgeries were sent before it.
    await eventually(() => got.length >= 1, 2000, "the real message");

    expect(got.map((r) => [r.event, (r.payload.record as { body?: string } | undefined)?.body])).toEqual([
      ["message.insert", "real"],
    ]);
  });

  it("when the service role broadcasts on room:<id> over HTTP (AI replies), then members receive it", async () => {
    const { roomId, b } = await pairInRoom();
    const topic = `room:${roomId}:1`;
    const { got } = await join(b, topic, { events: ["ai.typing"] });

    const res = await httpBroadcast(
      rt.stack,
      rt.stack.serviceRoleKey,
      [{ topic, event: "ai.typing", payload: { reply_id: "r1" }, private: true }],
      rt.stack.serviceRoleKey,
    );
    expect(res.status).toBe(202);
    await eventually(() => got.length === 1, 2000, "the AI broadcast");

    expect(got[0]?.payload).toMatchObject({ reply_id: "r1" });
  });

  it("when anyone, signed in or not, joins coworking:lobby privately, then they receive counts and nobody's send is delivered", async () => {
    const [alice, ann] = await rt.users(2);
    const anon = await rt.client({ current: null });
    const a = await rt.connect(alice);
    const { channel: chAnon, got } = await join(anon, "coworking:lobby", {
      events: ["*"],
      broadcast: { ack: true },
    });
    const { channel: chA } = await join(a, "coworking:lobby", { broadcast: { ack: true } });
    const fake = { room_id: crypto.randomUUID(), participant_count: 99 };

    expect(await chA.send({ type: "broadcast", event: "room.count", payload: fake }, { timeout: 500 })).toBe(
      "timed out",
    );
    expect(
      await chAnon.send({ type: "broadcast", event: "room.count", payload: fake }, { timeout: 500 }),
    ).toBe("timed out");
    const [room] = await rt.sql<{ id: string }[]>`
      insert into roomkit.rooms (kind, name, ai_mode, created_by, capacity)
      values ('coworking', 'Lobby test', null, ${alice.id}, 5) returning id`;
    await rt.sql`insert into roomkit.room_members (room_id, user_id, role) values (${room!.id}, ${ann.id}, 'member')`;
    // The sentinel: the fake counts were sent before it.
    await eventually(() => got.some((r) => r.payload.room_id === room!.id), 2000, "the lobby count");

    expect(got.filter((r) => r.payload.room_id === fake.room_id)).toEqual([]);
    expect(
      got.filter((r) => r.payload.room_id === room!.id).map((r) => [r.event, r.payload.participant_count]),
    ).toEqual([["room.count", 1]]);
  });

  it("when a signed token names the postgres role, then joins are refused as Unauthorized and its HTTP sends are skipped", async () => {
    const [alice, bob] = await rt.users(2);
    const roomId = await createRoom(rt.sql, alice, [bob]);
    const topic = `room:${roomId}:1`;
    const rootToken = await signToken(rt.stack.jwtSecret ?? "", {
      sub: bob.id,
      role: "postgres",
      aud: "authenticated",
    });
    const root = await rt.client({ current: rootToken });
    const b = await rt.connect(bob);

    await expectReadRefused(root, topic);
    const { got } = await join(b, topic, { events: ["room.delete", "ai.typing"] });
    const res = await httpBroadcast(rt.stack, rootToken, [
      { topic, event: "room.delete", payload: {}, private: true },
    ]);
    expect(res.status).toBe(202);
    // The sentinel: the service role's broadcast on the same topic, sent after the refused one.
    const sentinel = await httpBroadcast(
      rt.stack,
      rt.stack.serviceRoleKey,
      [{ topic, event: "ai.typing", payload: { reply_id: "sentinel" }, private: true }],
      rt.stack.serviceRoleKey,
    );
    expect(sentinel.status).toBe(202);
    await eventually(() => got.length >= 1, 2000, "the sentinel");

    expect(got.map((m) => m.event)).toEqual(["ai.typing"]);
  });
});
