/**
 * Membership ends access everywhere, on Realtime's real semantics (a private channel is authorized
 * at join and at the first send, then never again, exactly as the local stand-in does it):
 * - a removed member who keeps a raw supabase-js channel open, ignoring every hint, receives
 *   nothing new and reaches nobody with what they send;
 * - the members who stay keep every message, exactly once, in order, through the library;
 * - a signed-out token neither reads over REST nor joins a room's channel.
 * Absence is asserted after a sentinel that must arrive on the same socket: an invite to the
 * hostile user, committed after the room message, delivered on their own `user:<id>` topic.
 */
import type { RealtimeChannel } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DB_EVENTS,
  roomLiveTopic,
  roomTopic,
  SIGNAL_EVENTS,
  userTopic,
} from "../../functions/_shared/contract.ts";
import { roomWith } from "../support/rooms.ts";
import type { TestStack } from "../support/stack.ts";
import { startE2EStack } from "../support/stack.ts";
import { must, type Person, signUp } from "../support/users.ts";
import { eventually, record } from "../support/wait.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startE2EStack();
});
afterAll(() => stack?.stop());

/** Joins a private channel on `person`'s raw supabase-js client, collecting every broadcast. */
async function listen(
  person: Person,
  topic: string,
): Promise<{ channel: RealtimeChannel; got: { event: string; payload: unknown }[] }> {
  await person.supabase.realtime.setAuth();
  const got: { event: string; payload: unknown }[] = [];
  const channel = person.supabase.channel(topic, { config: { private: true, broadcast: { ack: true } } });
  channel.on("broadcast", { event: "*" }, (m) => got.push({ event: m.event, payload: m.payload }));
  const status = await new Promise<string>((resolve) =>
    channel.subscribe((s) => s !== "CLOSED" && resolve(s)),
  );
  expect(status).toBe("SUBSCRIBED");
  return { channel, got };
}

async function epochOf(person: Person, roomId: string): Promise<number> {
  const { data } = await person.supabase.from("rooms").select("epoch").eq("id", roomId).single();
  return data?.epoch ?? 0;
}

describe("a removed member with a hostile client", () => {
  it("when Mallory is removed but keeps her channels open, then she receives nothing new and her signals reach nobody, while Carol keeps every message once and in order", async () => {
    const [alice, carol, mallory] = [
      await signUp(stack, "Alice"),
      await signUp(stack, "Carol"),
      await signUp(stack, "Mallory"),
    ];
    const roomId = await roomWith(alice, [carol, mallory], { name: "Revocation", ai_mode: "mention" });
    const epoch = await epochOf(mallory, roomId);

    // Mallory's raw channels on the room's topics, and her own user topic for the sentinel.
    const events = await listen(mallory, roomTopic(roomId, epoch));
    const live = await listen(mallory, roomLiveTopic(roomId, epoch));
    const inbox = await listen(mallory, userTopic(mallory.id));
    // Carol uses the library.
    const carolSession = must(await carol.roomkit.openRoom(roomId));
    const carolSaw = record(carolSession);

    must(await alice.roomkit.messages.send(roomId, "before"));
    await eventually(() => events.got.some((g) => g.event === DB_EVENTS.messageInsert));

    must(await alice.roomkit.rooms.removeMember(roomId, mallory.id));
    const after: string[] = [];
    for (let i = 0; i < 5; i++) after.push(must(await alice.roomkit.messages.send(roomId, `after ${i}`)).id);
    // Mallory tries to talk to the room on the channel she still holds.
    const sent = await live.channel.send(
      { type: "broadcast", event: SIGNAL_EVENTS.typing, payload: { user_id: mallory.id, typing: true } },
      { timeout: 1000 },
    );

    // The sentinel: an invite to Mallory into another room, committed after the messages above.
    const other = must(await alice.roomkit.rooms.create({ name: "Elsewhere" }));
    must(await alice.roomkit.invites.send(other.id, { invitee_id: mallory.id }));
    await eventually(() => inbox.got.some((g) => g.event === DB_EVENTS.inviteInsert));

    const malloryBodies = events.got
      .filter((g) => g.event === DB_EVENTS.messageInsert)
      .map((g) => (g.payload as { record: { body: string } }).record.body);
    expect(malloryBodies).not.toEqual(expect.arrayContaining(["after 0"]));
    expect(malloryBodies.filter((b) => b.startsWith("after"))).toEqual([]);

    // Carol: every message once, in order; Mallory's typing never shows (sentinel: the last message).
    await eventually(() => carolSession.messages.some((m) => m.id === after.at(-1)));
    const carolIds = carolSession.messages.map((m) => m.id);
    expect(after.every((id) => carolIds.filter((x) => x === id).length === 1)).toBe(true);
    expect(carolIds.filter((id) => after.includes(id))).toEqual(after);
    expect(carolSaw.typing.flat()).not.toContain(mallory.id);
    expect(carolSession.typingUsers).not.toContain(mallory.id);
    // Whatever the stand-in answered to her send, nobody who stayed got it.
    expect(["ok", "error", "timed out"]).toContain(sent);

    // Her channels cannot be re-established either.
    const retry = mallory.supabase.channel(roomTopic(roomId, epoch + 1), { config: { private: true } });
    const status = await new Promise<string>((resolve) =>
      retry.subscribe((s) => s !== "SUBSCRIBED" && resolve(s)),
    );
    expect(status).toBe("CHANNEL_ERROR");
    await carolSession.close();
  });

  it("when a member leaves, then the others' sessions move to the new epoch and miss nothing sent right after", async () => {
    const [alice, bob, dan] = [
      await signUp(stack, "Alice"),
      await signUp(stack, "Bob"),
      await signUp(stack, "Dan"),
    ];
    const roomId = await roomWith(alice, [bob, dan], { name: "Revocation", ai_mode: "mention" });
    const bobSession = must(await bob.roomkit.openRoom(roomId));
    must(await dan.roomkit.rooms.leave(roomId));
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(must(await alice.roomkit.messages.send(roomId, `m${i}`)).id);
    await eventually(() => ids.every((id) => bobSession.messages.some((m) => m.id === id)));
    expect(bobSession.messages.map((m) => m.id).filter((id) => ids.includes(id))).toEqual(ids);
    expect(bobSession.closeReason).toBeUndefined();
    await bobSession.close();
  });
});

describe("sign-out", () => {
  // On a stack with the default token lifetime: with short tokens the session could rightly end
  // with token_expired before the sign-out.
  it("when the user signs out, then their open session ends with unauthorized", async () => {
    const [alice, bob] = [await signUp(stack, "Alice"), await signUp(stack, "Bob")];
    const roomId = await roomWith(alice, [bob], { name: "Sign-out" });
    const session = must(await bob.roomkit.openRoom(roomId));
    const saw = record(session);
    await bob.supabase.auth.signOut();
    await eventually(() => saw.closed.length === 1);
    expect(saw.closed[0]?.reason).toBe("unauthorized");
  });

  it("when a user signs out, then their old access token reads nothing over REST and cannot join the room's channel", async () => {
    const [alice, bob] = [await signUp(stack, "Alice"), await signUp(stack, "Bob")];
    const roomId = await roomWith(alice, [bob], { name: "Revocation", ai_mode: "mention" });
    must(await alice.roomkit.messages.send(roomId, "secret"));
    const token = (await bob.supabase.auth.getSession()).data.session?.access_token ?? "";
    const epoch = await epochOf(bob, roomId);

    // A client that keeps using the token after sign-out (its own copy; the app's client forgets it).
    const { createClient } = await import("@supabase/supabase-js");
    const WebSocket = (await import("ws")).default;
    const stale = createClient(stack.url, stack.anonKey, {
      db: { schema: "roomkit" },
      accessToken: async () => token,
      realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
    });
    expect((await stale.from("room_messages").select("body").eq("room_id", roomId)).data).toContainEqual({
      body: "secret",
    });

    expect((await bob.supabase.auth.signOut()).error).toBeNull();
    const { data, error } = await stale.from("room_messages").select("body").eq("room_id", roomId);
    expect(error).toBeNull();
    expect(data).toEqual([]);
    await stale.realtime.setAuth();
    const channel = stale.channel(roomTopic(roomId, epoch), { config: { private: true } });
    const status = await new Promise<string>((resolve) =>
      channel.subscribe((s) => s !== "SUBSCRIBED" && resolve(s)),
    );
    expect(status).toBe("CHANNEL_ERROR");
    await stale.removeAllChannels();
  });
});
