import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realtimeSurfaceFor } from "../../packages/stack/src/realtime/index.ts";
import type { TestStack } from "../support/stack.ts";
import { startE2EStack } from "../support/stack.ts";
import { must, signUpAll } from "../support/users.ts";
import { eventually, record } from "../support/wait.ts";

/**
 * Delivery a user can trust: while Alice keeps sending, Bob's realtime connection is cut (his
 * socket dies, then the whole realtime server restarts, losing every broadcast sent while it is
 * down). Bob's session must end up with every message Alice sent, exactly once, in order.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await startE2EStack();
});
afterAll(async () => {
  await stack?.stop();
});

const TOTAL = 160;
const CUT_SOCKET_AT = 30;
const RESTART_AT = 100;

/** Kills the client's WebSocket without a close handshake, as a dropped network does. */
function dropSocket(client: { realtime: unknown }): void {
  const adapter = client.realtime as unknown as {
    socketAdapter: { socket: { conn: { terminate(): void } | null } };
  };
  adapter.socketAdapter.socket.conn?.terminate();
}

describe("no message lost", () => {
  it("when Bob's socket dies and then the realtime server restarts while Alice keeps sending, then Bob's session holds every message exactly once, in order", async () => {
    const [alice, bob] = await signUpAll(stack, "Alice", "Bob");
    const room = must(await alice.roomkit.rooms.create({ name: "Firehose", ai_mode: "off" }));
    const invite = must(await alice.roomkit.invites.send(room.id, { invitee_id: bob.id }));
    must(await bob.roomkit.invites.accept(invite.id));
    const session = must(await bob.roomkit.openRoom(room.id));
    const saw = record(session);

    const sent: string[] = [];
    const cuts: Promise<void>[] = [];
    for (let i = 0; i < TOTAL; i++) {
      sent.push(must(await alice.roomkit.messages.send(room.id, `#${i}`)).id);
      if (i === CUT_SOCKET_AT) dropSocket(bob.supabase);
      if (i === RESTART_AT) {
        const surface = realtimeSurfaceFor(stack.url);
        // Against a real Supabase there is no restart knob: the socket cut above stays the test.
        if (surface) cuts.push(surface.restart());
        else dropSocket(bob.supabase);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(cuts);

    const fromAlice = () => saw.message.filter((m) => m.sender_id === alice.id).map((m) => m.id);
    await eventually(() => fromAlice().length >= TOTAL, 20_000);
    // Reported exactly once each, in the order Alice sent them (her sends were sequential, so that
    // is also the server's order).
    expect(fromAlice()).toEqual(sent);
    expect(session.messages.filter((m) => m.sender_id === alice.id).map((m) => m.id)).toEqual(sent);
    expect(new Set(saw.message.map((m) => m.id)).size).toBe(saw.message.length);

    // Both outages were noticed, and backfill (not live delivery) is what recovered the gaps.
    expect(saw.status.filter((s) => s === "reconnecting").length).toBeGreaterThanOrEqual(1);
    expect(saw.resynced.length).toBeGreaterThanOrEqual(2);
    expect(saw.resynced.reduce((n, r) => n + r.added, 0)).toBeGreaterThan(0);
    expect(saw.closed).toEqual([]);

    // And the session is live again: a new message arrives without another backfill.
    const resyncs = saw.resynced.length;
    const last = must(await alice.roomkit.messages.send(room.id, "still there?"));
    await eventually(() => saw.message.some((m) => m.id === last.id));
    expect(saw.resynced.length).toBe(resyncs);
    await session.close();
  });
});
