import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signJwt } from "../../src/stack/jwt.ts";
import type { StackKeys } from "../../src/stack/keys.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import {
  createRoom,
  createUser,
  into,
  type Received,
  realtimeClient,
  sleep,
  subscribe,
  superuser,
  until,
} from "./realtime-support.ts";

let stack: TestStack;
let sql: postgres.Sql;

beforeAll(async () => {
  stack = await startTestStack({ functions: false });
  sql = superuser(stack);
});
afterAll(async () => {
  await sql?.end();
  await stack?.stop();
});

describe("realtime broadcast", () => {
  it("when two members share a private room, then each receives the other's broadcasts on room:<id>:live and an outsider is refused", async () => {
    const [alice, bob, eve] = await Promise.all([
      createUser(stack, sql),
      createUser(stack, sql),
      createUser(stack, sql),
    ]);
    const roomId = await createRoom(sql, alice, [bob]);
    const topic = `room:${roomId}:live`;
    const a = await realtimeClient(stack, { current: await alice.token() });
    const b = await realtimeClient(stack, { current: await bob.token() });
    const e = await realtimeClient(stack, { current: await eve.token() });
    try {
      const gotA: Received[] = [];
      const gotB: Received[] = [];
      const chA = a
        .channel(topic, { config: { private: true } })
        .on("broadcast", { event: "typing" }, into(gotA));
      const chB = b
        .channel(topic, { config: { private: true } })
        .on("broadcast", { event: "typing" }, into(gotB));
      expect(await subscribe(chA)).toEqual({ status: "SUBSCRIBED" });
      expect(await subscribe(chB)).toEqual({ status: "SUBSCRIBED" });

      expect(await chA.send({ type: "broadcast", event: "typing", payload: { who: "alice" } })).toBe("ok");
      expect(await chB.send({ type: "broadcast", event: "typing", payload: { who: "bob" } })).toBe("ok");
      await until(() => gotA.length === 1 && gotB.length === 1, 2000, "both broadcasts");
      expect(gotB[0]).toMatchObject({ event: "typing", payload: { who: "alice" } });
      expect(gotA[0]).toMatchObject({ event: "typing", payload: { who: "bob" } });

      const outsider = await subscribe(e.channel(topic, { config: { private: true } }));
      expect(outsider.status).toBe("CHANNEL_ERROR");
      expect(outsider.error?.message).toBe(
        `Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`,
      );
    } finally {
      await Promise.all([a.removeAllChannels(), b.removeAllChannels(), e.removeAllChannels()]);
    }
  });

  it("when a channel uses self:false, then the sender does not get its own message, and with ack:true send resolves ok after delivery", async () => {
    const [alice, bob] = await Promise.all([createUser(stack, sql), createUser(stack, sql)]);
    const roomId = await createRoom(sql, alice, [bob]);
    const topic = `room:${roomId}:live`;
    const a = await realtimeClient(stack, { current: await alice.token() });
    const b = await realtimeClient(stack, { current: await bob.token() });
    try {
      const gotA: Received[] = [];
      const gotB: Received[] = [];
      const chA = a
        .channel(topic, { config: { private: true, broadcast: { self: false, ack: true } } })
        .on("broadcast", { event: "reaction" }, into(gotA));
      const chB = b
        .channel(topic, { config: { private: true, broadcast: { self: true } } })
        .on("broadcast", { event: "reaction" }, into(gotB));
      expect((await subscribe(chA)).status).toBe("SUBSCRIBED");
      expect((await subscribe(chB)).status).toBe("SUBSCRIBED");
      expect(await chA.send({ type: "broadcast", event: "reaction", payload: { emoji: "🎉" } })).toBe("ok");
      await until(() => gotB.length === 1, 2000, "bob's copy");
      await chB.send({ type: "broadcast", event: "reaction", payload: { emoji: "👍" } });
      await until(() => gotB.length === 2 && gotA.length === 1, 2000, "bob's own message and alice's copy");
      await sleep(100);
      expect(gotA.map((m) => m.payload.emoji)).toEqual(["👍"]);
      expect(gotB.map((m) => m.payload.emoji)).toEqual(["🎉", "👍"]);
    } finally {
      await Promise.all([a.removeAllChannels(), b.removeAllChannels()]);
    }
  });

  it("when public and private channels share a name, then their broadcasts stay apart", async () => {
    const [alice, bob] = await Promise.all([createUser(stack, sql), createUser(stack, sql)]);
    const roomId = await createRoom(sql, alice, [bob]);
    const topic = `room:${roomId}:live`;
    const a = await realtimeClient(stack, { current: await alice.token() });
    const b = await realtimeClient(stack, { current: await bob.token() });
    try {
      const gotPublic: Received[] = [];
      const chPrivate = a.channel(topic, { config: { private: true, broadcast: { ack: true } } });
      const chPublic = b.channel(topic).on("broadcast", { event: "*" }, into(gotPublic));
      expect((await subscribe(chPrivate)).status).toBe("SUBSCRIBED");
      expect((await subscribe(chPublic)).status).toBe("SUBSCRIBED");
      expect(await chPrivate.send({ type: "broadcast", event: "secret", payload: { x: 1 } })).toBe("ok");
      await sleep(200);
      expect(gotPublic).toEqual([]);
    } finally {
      await Promise.all([a.removeAllChannels(), b.removeAllChannels()]);
    }
  });

  it("when someone who may read but not write sends on a private channel, then the message is dropped and an ack never comes", async () => {
    const [alice, bob] = await Promise.all([createUser(stack, sql), createUser(stack, sql)]);
    const roomId = await createRoom(sql, alice, [bob]);
    // A user topic: readable by its owner only, and nobody may send on it.
    const topic = `user:${alice.id}`;
    const a = await realtimeClient(stack, { current: await alice.token() });
    const a2 = await realtimeClient(stack, { current: await alice.token() });
    try {
      const got: Received[] = [];
      const listener = a2
        .channel(topic, { config: { private: true } })
        .on("broadcast", { event: "spoof" }, into(got));
      const sender = a.channel(topic, { config: { private: true, broadcast: { ack: true } } });
      expect((await subscribe(listener)).status).toBe("SUBSCRIBED");
      expect((await subscribe(sender)).status).toBe("SUBSCRIBED");
      expect(
        await sender.send({ type: "broadcast", event: "spoof", payload: { roomId } }, { timeout: 500 }),
      ).toBe("timed out");
      expect(got).toEqual([]);
    } finally {
      await Promise.all([a.removeAllChannels(), a2.removeAllChannels()]);
    }
  });

  it("when a payload exceeds the 3 000 KB limit, then an acked send reports an error and nobody receives it", async () => {
    const [alice, bob] = await Promise.all([createUser(stack, sql), createUser(stack, sql)]);
    const roomId = await createRoom(sql, alice, [bob]);
    const topic = `room:${roomId}:live`;
    const a = await realtimeClient(stack, { current: await alice.token() });
    const b = await realtimeClient(stack, { current: await bob.token() });
    try {
      const got: Received[] = [];
      const chA = a.channel(topic, { config: { private: true, broadcast: { ack: true } } });
      const chB = b
        .channel(topic, { config: { private: true } })
        .on("broadcast", { event: "big" }, into(got))
        .on("broadcast", { event: "small" }, into(got));
      expect((await subscribe(chA)).status).toBe("SUBSCRIBED");
      expect((await subscribe(chB)).status).toBe("SUBSCRIBED");
      const big = "x".repeat(3000 * 1024 + 600);
      expect(await chA.send({ type: "broadcast", event: "big", payload: { big } })).toBe("error");
      expect(await chA.send({ type: "broadcast", event: "small", payload: { ok: true } })).toBe("ok");
      await until(() => got.length === 1, 2000, "the small message");
      expect(got.map((m) => m.event)).toEqual(["small"]);
    } finally {
      await Promise.all([a.removeAllChannels(), b.removeAllChannels()]);
    }
  });

  it("when a member broadcasts over HTTP (httpSend and the batch endpoint), then subscribers receive it and an outsider's HTTP send is silently skipped", async () => {
    const [alice, bob, eve] = await Promise.all([
      createUser(stack, sql),
      createUser(stack, sql),
      createUser(stack, sql),
    ]);
    const roomId = await createRoom(sql, alice, [bob]);
    const topic = `room:${roomId}:live`;
    const a = await realtimeClient(stack, { current: await alice.token() });
    const b = await realtimeClient(stack, { current: await bob.token() });
    const eveToken = await eve.token();
    try {
      const got: Received[] = [];
      const chB = b
        .channel(topic, { config: { private: true } })
        .on("broadcast", { event: "note" }, into(got));
      expect((await subscribe(chB)).status).toBe("SUBSCRIBED");
      const viaHttp = a.channel(topic, { config: { private: true } });
      expect(await viaHttp.httpSend("note", { n: 1 })).toEqual({ success: true });
      const batch = await fetch(`${stack.url}/realtime/v1/api/broadcast`, {
        method: "POST",
        headers: {
          apikey: stack.anonKey,
          authorization: `Bearer ${eveToken}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ messages: [{ topic, event: "note", payload: { n: 666 }, private: true }] }),
      });
      expect(batch.status).toBe(202);
      const mine = await fetch(`${stack.url}/realtime/v1/api/broadcast`, {
        method: "POST",
        headers: {
          apikey: stack.anonKey,
          authorization: `Bearer ${await alice.token()}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({
          messages: [{ topic, event: "note", payload: { n: 2 }, private: true, id: "m-2" }],
        }),
      });
      expect(mine.status).toBe(202);
      await until(() => got.length === 2, 2000, "two HTTP broadcasts");
      await sleep(100);
      expect(got.map((m) => m.payload.n)).toEqual([1, 2]);
      expect(got[1]?.meta).toEqual({ id: "m-2" });
    } finally {
      await Promise.all([a.removeAllChannels(), b.removeAllChannels()]);
    }
  });
});

describe("realtime topics clients may not write", () => {
  it("when a member broadcasts a fake message.insert on room:<id>, then no other member receives it and an ack never comes", async () => {
    const [alice, bob, mallory] = await Promise.all([
      createUser(stack, sql),
      createUser(stack, sql),
      createUser(stack, sql),
    ]);
    const roomId = await createRoom(sql, alice, [bob, mallory]);
    const topic = `room:${roomId}`;
    const b = await realtimeClient(stack, { current: await bob.token() });
    const m = await realtimeClient(stack, { current: await mallory.token() });
    try {
      const got: Received[] = [];
      // Only the forged event names: the room's own member.insert rows may still be on their way.
      const chB = b
        .channel(topic, { config: { private: true } })
        .on("broadcast", { event: "message.insert" }, into(got))
        .on("broadcast", { event: "room.delete" }, into(got));
      const chM = m.channel(topic, { config: { private: true, broadcast: { ack: true } } });
      expect((await subscribe(chB)).status).toBe("SUBSCRIBED");
      // Mallory may still read the room's database events.
      expect((await subscribe(chM)).status).toBe("SUBSCRIBED");
      const forged = {
        operation: "INSERT",
        table: "room_messages",
        schema: "public",
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
      const overHttp = await fetch(`${stack.url}/realtime/v1/api/broadcast`, {
        method: "POST",
        headers: {
          apikey: stack.anonKey,
          authorization: `Bearer ${await mallory.token()}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({
          messages: [{ topic, event: "message.insert", payload: forged, private: true }],
        }),
      });
      expect(overHttp.status).toBe(202);
      // The database's own broadcasts still arrive.
      await sql`insert into public.room_messages (room_id, sender_id, body) values (${roomId}, ${alice.id}, 'real')`;
      await until(() => got.length >= 1, 2000, "the real message");
      await sleep(150);
      expect(got.map((r) => [r.event, (r.payload.record as { body?: string } | undefined)?.body])).toEqual([
        ["message.insert", "real"],
      ]);
    } finally {
      await Promise.all([b.removeAllChannels(), m.removeAllChannels()]);
    }
  });

  it("when the service role broadcasts on room:<id> over HTTP (AI replies), then members receive it", async () => {
    const [alice, bob] = await Promise.all([createUser(stack, sql), createUser(stack, sql)]);
    const roomId = await createRoom(sql, alice, [bob]);
    const topic = `room:${roomId}`;
    const b = await realtimeClient(stack, { current: await bob.token() });
    try {
      const got: Received[] = [];
      const chB = b
        .channel(topic, { config: { private: true } })
        .on("broadcast", { event: "ai.typing" }, into(got));
      expect((await subscribe(chB)).status).toBe("SUBSCRIBED");
      const res = await fetch(`${stack.url}/realtime/v1/api/broadcast`, {
        method: "POST",
        headers: {
          apikey: stack.serviceRoleKey,
          authorization: `Bearer ${stack.serviceRoleKey}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({
          messages: [{ topic, event: "ai.typing", payload: { reply_id: "r1" }, private: true }],
        }),
      });
      expect(res.status).toBe(202);
      await until(() => got.length === 1, 2000, "the AI broadcast");
      expect(got[0]?.payload).toMatchObject({ reply_id: "r1" });
    } finally {
      await b.removeAllChannels();
    }
  });

  it("when anyone, signed in or not, joins coworking:lobby privately, then they receive counts and nobody's send is delivered", async () => {
    const [alice, ann] = await Promise.all([createUser(stack, sql), createUser(stack, sql)]);
    const anon = await realtimeClient(stack, { current: null });
    const a = await realtimeClient(stack, { current: await alice.token() });
    try {
      const got: Received[] = [];
      const chAnon = anon
        .channel("coworking:lobby", { config: { private: true, broadcast: { ack: true } } })
        .on("broadcast", { event: "*" }, into(got));
      const chA = a.channel("coworking:lobby", { config: { private: true, broadcast: { ack: true } } });
      expect((await subscribe(chAnon)).status).toBe("SUBSCRIBED");
      expect((await subscribe(chA)).status).toBe("SUBSCRIBED");
      const fake = { room_id: crypto.randomUUID(), participant_count: 99 };
      expect(
        await chA.send({ type: "broadcast", event: "room.count", payload: fake }, { timeout: 500 }),
      ).toBe("timed out");
      expect(
        await chAnon.send({ type: "broadcast", event: "room.count", payload: fake }, { timeout: 500 }),
      ).toBe("timed out");
      const [room] = await sql<{ id: string }[]>`
        insert into public.rooms (kind, name, ai_mode, created_by, capacity)
        values ('coworking', 'Lobby test', null, ${alice.id}, 5) returning id`;
      await sql`insert into public.room_members (room_id, user_id, role) values (${room!.id}, ${ann.id}, 'member')`;
      await until(() => got.some((r) => r.payload.room_id === room!.id), 2000, "the lobby count");
      await sleep(150);
      expect(got.filter((r) => r.payload.room_id === fake.room_id)).toEqual([]);
      expect(
        got.filter((r) => r.payload.room_id === room!.id).map((r) => [r.event, r.payload.participant_count]),
      ).toEqual([["room.count", 1]]);
    } finally {
      await Promise.all([anon.removeAllChannels(), a.removeAllChannels()]);
    }
  });

  it("when a signed token names the postgres role, then joins are refused as Unauthorized and its HTTP sends are skipped", async () => {
    const [alice, bob] = await Promise.all([createUser(stack, sql), createUser(stack, sql)]);
    const roomId = await createRoom(sql, alice, [bob]);
    const topic = `room:${roomId}`;
    const now = Math.floor(Date.now() / 1000);
    const rootToken = await signJwt(
      { sub: bob.id, role: "postgres", aud: "authenticated", iat: now, exp: now + 3600 },
      { jwtSecret: stack.jwtSecret } as StackKeys,
    );
    const root = await realtimeClient(stack, { current: rootToken });
    const b = await realtimeClient(stack, { current: await bob.token() });
    try {
      const outcome = await subscribe(root.channel(topic, { config: { private: true } }));
      expect(outcome.status).toBe("CHANNEL_ERROR");
      expect(outcome.error?.message).toBe(
        `Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`,
      );
      const got: Received[] = [];
      const chB = b
        .channel(topic, { config: { private: true } })
        .on("broadcast", { event: "room.delete" }, into(got));
      expect((await subscribe(chB)).status).toBe("SUBSCRIBED");
      const res = await fetch(`${stack.url}/realtime/v1/api/broadcast`, {
        method: "POST",
        headers: {
          apikey: stack.anonKey,
          authorization: `Bearer ${rootToken}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ messages: [{ topic, event: "room.delete", payload: {}, private: true }] }),
      });
      expect(res.status).toBe(202);
      await sleep(300);
      expect(got).toEqual([]);
    } finally {
      await Promise.all([root.removeAllChannels(), b.removeAllChannels()]);
    }
  });
});
