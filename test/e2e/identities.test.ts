/**
 * Presence and broadcast payloads are whatever the sending client wrote (Supabase Realtime does not
 * attach a verified sender). The library shows only identities it can tie to the room's current
 * members, with names from their profiles and the mic from their membership rows. A member with a
 * raw supabase-js channel tries to pass as someone else; absence is asserted after a sentinel sent
 * on the same channel after the forgery.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roomLiveTopic, SIGNAL_EVENTS } from "../../functions/_shared/contract.ts";
import type { TestStack } from "../support/stack.ts";
import { startE2EStack } from "../support/stack.ts";
import { must, signUp } from "../support/users.ts";
import { eventually } from "../support/wait.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startE2EStack();
});
afterAll(() => stack?.stop());

describe("identities in presence and signals", () => {
  it("when a member forges names, mic state and other people's ids, then the session shows only members, by their profile names", async () => {
    const [alice, bob] = [await signUp(stack, "Alice"), await signUp(stack, "Bob")];
    const outsider = randomUUID();
    const room = must(await alice.roomkit.rooms.create({ name: "Identities" }));
    const invite = must(await alice.roomkit.invites.send(room.id, { invitee_id: bob.id }));
    must(await bob.roomkit.invites.accept(invite.id));
    const session = must(await alice.roomkit.openRoom(room.id));
    const { data } = await bob.supabase.from("rooms").select("epoch").eq("id", room.id).single();

    // Bob's hostile client: presence under his own key with a forged name and mic, and typing
    // signals in the name of someone who is not in the room.
    await bob.supabase.realtime.setAuth();
    const live = bob.supabase.channel(roomLiveTopic(room.id, data?.epoch ?? 0), {
      config: { private: true, presence: { key: bob.id } },
    });
    await new Promise<void>((resolve) => live.subscribe((s) => s === "SUBSCRIBED" && resolve()));
    await live.track({
      user_id: alice.id,
      display_name: "Alice (admin)",
      mic_enabled: true,
      status: "online",
    });
    await eventually(() => session.onlineUsers.some((u) => u.user_id === bob.id));
    expect(session.onlineUsers.find((u) => u.user_id === bob.id)).toMatchObject({
      display_name: "Bob",
      mic_enabled: false,
    });
    expect(session.onlineUsers.filter((u) => u.display_name === "Alice (admin)")).toEqual([]);

    await live.send({
      type: "broadcast",
      event: SIGNAL_EVENTS.typing,
      payload: { user_id: outsider, typing: true },
    });
    // The sentinel: a signal in Bob's own name, sent after the forged one on the same channel.
    await live.send({
      type: "broadcast",
      event: SIGNAL_EVENTS.typing,
      payload: { user_id: bob.id, typing: true },
    });
    await eventually(() => session.typingUsers.includes(bob.id));
    expect(session.typingUsers).not.toContain(outsider);

    // Presence under a key that is not a member's never shows: a second tab of Bob's tracks as the
    // outsider; the sentinel is Bob's first tab changing its status afterwards.
    const { createClient } = await import("@supabase/supabase-js");
    const WebSocket = (await import("ws")).default;
    const token = (await bob.supabase.auth.getSession()).data.session?.access_token ?? "";
    const tab = createClient(stack.url, stack.anonKey, {
      accessToken: async () => token,
      realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
    });
    await tab.realtime.setAuth();
    const other = tab.channel(roomLiveTopic(room.id, data?.epoch ?? 0), {
      config: { private: true, presence: { key: outsider } },
    });
    await new Promise<void>((resolve) => other.subscribe((s) => s === "SUBSCRIBED" && resolve()));
    expect(await other.track({ user_id: outsider, display_name: "Ghost" })).toBe("ok");
    await live.track({ user_id: bob.id, status: "busy" });
    await eventually(() => session.onlineUsers.find((u) => u.user_id === bob.id)?.status === "busy");
    expect(session.onlineUsers.map((u) => u.user_id)).not.toContain(outsider);
    expect(session.onlineUsers.map((u) => u.display_name)).not.toContain("Ghost");
    await tab.removeAllChannels();
    await session.close();
  });
});
