import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realtimeSurfaceFor } from "../../src/stack/realtime/index.ts";
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

/** Subscribes and records every status realtime-js reports. */
function watch(channel: ReturnType<Awaited<ReturnType<typeof realtimeClient>>["channel"]>) {
  const statuses: string[] = [];
  const system: { extension?: string; status?: string; message?: string; channel?: string }[] = [];
  channel.on("system", {}, (p) => system.push(p));
  const subscribed = new Promise<void>((resolve, reject) =>
    channel.subscribe((s, err) => {
      statuses.push(s);
      if (s === "SUBSCRIBED") resolve();
      if (s === "CHANNEL_ERROR") reject(err);
    }),
  );
  return { statuses, system, subscribed };
}

describe("realtime database broadcasts and lifecycle", () => {
  it("when a room message row is inserted, then members get the broadcast_changes payload once within a second", async () => {
    const [alice, bob] = await Promise.all([createUser(stack, sql), createUser(stack, sql)]);
    const roomId = await createRoom(sql, alice, [bob]);
    const b = await realtimeClient(stack, { current: await bob.token() });
    try {
      const got: Received[] = [];
      const ch = b
        .channel(`room:${roomId}`, { config: { private: true } })
        .on("broadcast", { event: "message.insert" }, into(got));
      expect((await subscribe(ch)).status).toBe("SUBSCRIBED");
      const started = Date.now();
      const [row] = await sql<{ id: string }[]>`
        insert into public.room_messages (room_id, sender_id, body) values (${roomId}, ${alice.id}, 'hello bob')
        returning id`;
      await until(() => got.length > 0, 1000, "the message broadcast");
      expect(Date.now() - started).toBeLessThan(1000);
      await sleep(200);
      expect(got).toHaveLength(1);
      const [message] = got;
      expect(message?.payload).toMatchObject({
        operation: "INSERT",
        table: "room_messages",
        schema: "public",
        old_record: null,
        record: { id: row?.id, room_id: roomId, sender_id: alice.id, body: "hello bob" },
      });
      expect(typeof message?.payload.id).toBe("string");
      expect(message?.meta).toEqual({ id: message?.payload.id });
    } finally {
      await b.removeAllChannels();
    }
  });

  it("when an invite is created, then it reaches the invitee's user topic and nobody else's", async () => {
    const [alice, bob, carol] = await Promise.all([
      createUser(stack, sql),
      createUser(stack, sql),
      createUser(stack, sql),
    ]);
    const roomId = await createRoom(sql, alice);
    const b = await realtimeClient(stack, { current: await bob.token() });
    const c = await realtimeClient(stack, { current: await carol.token() });
    try {
      const forBob: Received[] = [];
      const forCarol: Received[] = [];
      const chB = b
        .channel(`user:${bob.id}`, { config: { private: true } })
        .on("broadcast", { event: "invite.insert" }, into(forBob));
      const chC = c
        .channel(`user:${carol.id}`, { config: { private: true } })
        .on("broadcast", { event: "invite.insert" }, into(forCarol));
      expect((await subscribe(chB)).status).toBe("SUBSCRIBED");
      expect((await subscribe(chC)).status).toBe("SUBSCRIBED");
      const snoop = await subscribe(c.channel(`user:${bob.id}`, { config: { private: true } }));
      expect(snoop.status).toBe("CHANNEL_ERROR");
      await sql`insert into public.room_invites (room_id, inviter_id, invitee_id) values (${roomId}, ${alice.id}, ${bob.id})`;
      await until(() => forBob.length === 1, 1000, "bob's invite");
      await sleep(150);
      expect(forBob[0]?.payload).toMatchObject({
        operation: "INSERT",
        table: "room_invites",
        record: { invitee_id: bob.id, room_id: roomId },
      });
      expect(forCarol).toEqual([]);
    } finally {
      await Promise.all([b.removeAllChannels(), c.removeAllChannels()]);
    }
  });

  it("when the token expires mid-session, then the channel is closed with the expiry message", async () => {
    const alice = await createUser(stack, sql);
    const roomId = await createRoom(sql, alice);
    const a = await realtimeClient(stack, { current: await alice.token(2) });
    try {
      const w = watch(a.channel(`room:${roomId}`, { config: { private: true } }));
      await w.subscribed;
      await until(() => w.statuses.includes("CLOSED"), 4000, "channel closed");
      expect(w.system).toHaveLength(1);
      expect(w.system[0]).toMatchObject({ extension: "system", status: "error", channel: `room:${roomId}` });
      expect(w.system[0]?.message).toMatch(/^Token has expired \d+ seconds ago$/);
    } finally {
      await a.removeAllChannels();
    }
  });

  it("when a refreshed token no longer grants membership, then the channel is closed with the permission message", async () => {
    const [alice, bob] = await Promise.all([createUser(stack, sql), createUser(stack, sql)]);
    const roomId = await createRoom(sql, alice, [bob]);
    const token = { current: (await bob.token()) as string | null };
    const b = await realtimeClient(stack, token);
    try {
      const got: Received[] = [];
      const ch = b
        .channel(`room:${roomId}`, { config: { private: true } })
        .on("broadcast", { event: "message.insert" }, into(got));
      const w = watch(ch);
      await w.subscribed;
      await sql`update public.room_members set left_at = now() where room_id = ${roomId} and user_id = ${bob.id}`;
      // Still subscribed with the old evaluation until the token changes (policies are cached).
      token.current = await bob.token(7200);
      await b.realtime.setAuth();
      await until(() => w.statuses.includes("CLOSED"), 2000, "channel closed");
      // Both reads gone: the server reuses the join-time text (realtime_channel.ex
      // `maybe_assign_policies` fails before `check_read_permissions_revoked`).
      expect(w.system.map((s) => s.message)).toEqual([
        `You do not have permissions to read from this Channel topic: room:${roomId}`,
      ]);
      await sql`insert into public.room_messages (room_id, sender_id, body) values (${roomId}, ${alice.id}, 'after you left')`;
      await sleep(300);
      expect(got).toEqual([]);
    } finally {
      await b.removeAllChannels();
    }
  });

  it("when the realtime server restarts, then the client reconnects, rejoins and receives broadcasts again", async () => {
    const [alice, bob] = await Promise.all([createUser(stack, sql), createUser(stack, sql)]);
    const roomId = await createRoom(sql, alice, [bob]);
    const b = await realtimeClient(stack, { current: await bob.token() });
    try {
      const got: Received[] = [];
      const ch = b
        .channel(`room:${roomId}`, { config: { private: true } })
        .on("broadcast", { event: "message.insert" }, into(got));
      const w = watch(ch);
      await w.subscribed;
      const surface = realtimeSurfaceFor(stack.url);
      expect(surface).toBeDefined();
      await surface?.restart();
      // realtime-js reconnects after 1 s, then rejoins: a second SUBSCRIBED.
      await until(() => w.statuses.filter((s) => s === "SUBSCRIBED").length === 2, 5000, "rejoin");
      await sql`insert into public.room_messages (room_id, sender_id, body) values (${roomId}, ${alice.id}, 'welcome back')`;
      await until(() => got.length === 1, 1000, "a broadcast after the restart");
      expect(got[0]?.payload).toMatchObject({ record: { body: "welcome back" } });
    } finally {
      await b.removeAllChannels();
    }
  });

  it("when postgres_changes is requested, then the join fails so realtime-js reports CHANNEL_ERROR", async () => {
    const alice = await createUser(stack, sql);
    const a = await realtimeClient(stack, { current: await alice.token() });
    try {
      const ch = a
        .channel("changes")
        .on("postgres_changes", { event: "*", schema: "public", table: "room_messages" }, () => {});
      const outcome = await subscribe(ch);
      expect(outcome.status).toBe("CHANNEL_ERROR");
      expect(outcome.error?.message).toMatch(
        /^RealtimeDisabledForConfiguration: postgres_changes is not supported/,
      );
    } finally {
      await a.removeAllChannels();
    }
  });
});
