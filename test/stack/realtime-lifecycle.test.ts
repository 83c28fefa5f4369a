import { describe, expect, it } from "vitest";
import { realtimeSurfaceFor } from "../../packages/stack/src/realtime/index.ts";
import { EXTERNAL_STACK } from "../support/stack.ts";
import { eventually } from "../support/wait.ts";
import {
  createRoom,
  insertMessage,
  into,
  join,
  type Received,
  subscribe,
  useRealtimeStack,
  watch,
} from "./realtime-support.ts";

const rt = useRealtimeStack();

/**
 * Bob, a member of Alice's private room, watching its message.insert broadcasts on room:<id>;
 * his client authenticates with `token.current`, which the test may replace.
 */
async function bobWatchingRoom() {
  const [alice, bob] = await rt.users(2);
  const roomId = await createRoom(rt.sql, alice, [bob]);
  const token = { current: (await bob.token()) as string | null };
  const b = await rt.client(token);
  const got: Received[] = [];
  const w = watch(
    b
      .channel(`room:${roomId}:1`, { config: { private: true } })
      .on("broadcast", { event: "message.insert" }, into(got)),
  );
  await w.subscribed;
  return { alice, bob, roomId, token, b, got, w };
}

describe("realtime database broadcasts and lifecycle", () => {
  it("when a room message row is inserted, then members get the broadcast_changes payload once within a second", async () => {
    const [alice, bob] = await rt.users(2);
    const roomId = await createRoom(rt.sql, alice, [bob]);
    const b = await rt.connect(bob);
    const { got } = await join(b, `room:${roomId}:1`, { events: ["message.insert"] });

    const started = Date.now();
    const id = await insertMessage(rt.sql, roomId, alice.id, "hello bob");
    await eventually(() => got.length > 0, 1000, "the message broadcast");

    expect(Date.now() - started).toBeLessThan(1000);
    // The sentinel: a second row inserted after the first; once it is here, a second copy of the
    // first would have been too.
    const sentinel = await insertMessage(rt.sql, roomId, alice.id, "sentinel");
    await eventually(() => got.length >= 2, 1000, "the sentinel broadcast");
    expect(got.map((m) => (m.payload.record as { id?: string }).id)).toEqual([id, sentinel]);
    const [message] = got;
    expect(message?.payload).toMatchObject({
      operation: "INSERT",
      table: "room_messages",
      schema: "roomkit",
      old_record: null,
      record: { id, room_id: roomId, sender_id: alice.id, body: "hello bob" },
    });
    expect(typeof message?.payload.id).toBe("string");
    expect(message?.meta).toEqual({ id: message?.payload.id });
  });

  it("when an invite is created, then it reaches the invitee's user topic and nobody else's", async () => {
    const [alice, bob, carol] = await rt.users(3);
    const roomId = await createRoom(rt.sql, alice);
    const b = await rt.connect(bob);
    const c = await rt.connect(carol);
    const { got: forBob } = await join(b, `user:${bob.id}`, { events: ["invite.insert"] });
    const { got: forCarol } = await join(c, `user:${carol.id}`, { events: ["invite.insert"] });
    const snoop = await subscribe(c.channel(`user:${bob.id}`, { config: { private: true } }));
    expect(snoop.status).toBe("CHANNEL_ERROR");

    await rt.sql`insert into roomkit.room_invites (room_id, inviter_id, invitee_id) values (${roomId}, ${alice.id}, ${bob.id})`;
    await eventually(() => forBob.length === 1, 1000, "bob's invite");
    // The sentinel: Carol's own invite, made after Bob's, reaches her topic; Bob's did not.
    await rt.sql`insert into roomkit.room_invites (room_id, inviter_id, invitee_id) values (${roomId}, ${alice.id}, ${carol.id})`;
    await eventually(() => forCarol.length >= 1, 1000, "carol's own invite");

    expect(forBob[0]?.payload).toMatchObject({
      operation: "INSERT",
      table: "room_invites",
      record: { invitee_id: bob.id, room_id: roomId },
    });
    expect(forCarol.map((m) => (m.payload.record as { invitee_id?: string }).invitee_id)).toEqual([carol.id]);
    expect(forBob).toHaveLength(1);
  });

  it("when the token expires mid-session, then the channel is closed with the expiry message", async () => {
    const [alice] = await rt.users(1);
    const roomId = await createRoom(rt.sql, alice);
    const a = await rt.connect(alice, 2);
    const w = watch(a.channel(`room:${roomId}:1`, { config: { private: true } }));
    await w.subscribed;

    await eventually(() => w.statuses.includes("CLOSED"), 4000, "channel closed");

    expect(w.system).toHaveLength(1);
    expect(w.system[0]).toMatchObject({ extension: "system", status: "error", channel: `room:${roomId}:1` });
    expect(w.system[0]?.message).toMatch(/^Token has expired \d+ seconds ago$/);
  });

  it("when a refreshed token no longer grants membership, then the channel is closed with the permission message", async () => {
    const { alice, bob, roomId, token, b, got, w } = await bobWatchingRoom();

    await rt.sql`update roomkit.room_members set left_at = now() where room_id = ${roomId} and user_id = ${bob.id}`;
    // Still subscribed with the old evaluation until the token changes (policies are cached).
    token.current = await bob.token(7200);
    await b.realtime.setAuth();
    await eventually(() => w.statuses.includes("CLOSED"), 2000, "channel closed");

    // Both reads gone: the server reuses the join-time text (realtime_channel.ex
    // `maybe_assign_policies` fails before `check_read_permissions_revoked`).
    expect(w.system.map((s) => s.message)).toEqual([
      `You do not have permissions to read from this Channel topic: room:${roomId}:1`,
    ]);
    // Absence after a sentinel: Bob's own user topic, on the same socket, gets an invite that is
    // committed after the room message; once it is here, the message would have been too.
    const { got: inbox } = await join(b, `user:${bob.id}`, { events: ["invite.insert"] });
    await insertMessage(rt.sql, roomId, alice.id, "after you left");
    const other = await createRoom(rt.sql, alice);
    await rt.sql`insert into roomkit.room_invites (room_id, inviter_id, invitee_id) values (${other}, ${alice.id}, ${bob.id})`;
    await eventually(() => inbox.length === 1, 2000, "the sentinel invite");
    expect(got).toEqual([]);
  });

  // Restarts the stack's realtime server (realtimeSurfaceFor): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when the realtime server restarts, then the client reconnects, rejoins and receives broadcasts again",
    async () => {
      const { alice, roomId, got, w } = await bobWatchingRoom();
      const surface = realtimeSurfaceFor(rt.stack.url);
      expect(surface).toBeDefined();

      await surface?.restart();
      // realtime-js reconnects after 1 s, then rejoins: a second SUBSCRIBED.
      await eventually(() => w.statuses.filter((s) => s === "SUBSCRIBED").length === 2, 5000, "rejoin");
      await insertMessage(rt.sql, roomId, alice.id, "welcome back");
      await eventually(() => got.length === 1, 1000, "a broadcast after the restart");

      expect(got[0]?.payload).toMatchObject({ record: { body: "welcome back" } });
    },
  );

  it("when postgres_changes is requested, then the join fails so realtime-js reports CHANNEL_ERROR", async () => {
    const [alice] = await rt.users(1);
    const a = await rt.connect(alice);
    const ch = a
      .channel("changes")
      .on("postgres_changes", { event: "*", schema: "public", table: "room_messages" }, () => {});

    const outcome = await subscribe(ch);

    expect(outcome.status).toBe("CHANNEL_ERROR");
    expect(outcome.error?.message).toMatch(
      /^RealtimeDisabledForConfiguration: postgres_changes is not supported/,
    );
  });
});
