import type { RealtimeChannel } from "@supabase/supabase-js";
import { describe, expect, it } from "vitest";
import { eventually } from "../support/wait.ts";
import { createRoom, type RoomkitClient, subscribe, useRealtimeStack, watch } from "./realtime-support.ts";

const rt = useRealtimeStack();

/** Keys currently present on a channel, sorted. */
function online(channel: RealtimeChannel): string[] {
  return Object.keys(channel.presenceState()).sort();
}

/** Cuts the client's TCP connection without a WebSocket close frame, like a lost network. */
function dropSocket(client: { realtime: unknown }): void {
  const phoenix = (
    client.realtime as unknown as { socketAdapter: { socket: { conn: { terminate(): void } } } }
  ).socketAdapter.socket;
  phoenix.conn.terminate();
}

describe("realtime presence", () => {
  it("when three members track, update and leave, then everyone sees sync, join and leave, including for a dropped socket", async () => {
    const users = await rt.users(3);
    const [alice, bob, carol] = users;
    const roomId = await createRoom(rt.sql, alice, [bob, carol]);
    const topic = `room:${roomId}:1:live`;
    const clients = await Promise.all(users.map((u) => rt.connect(u)));
    const [, , c] = clients as [RoomkitClient, RoomkitClient, RoomkitClient];
    const joinsSeenByA: string[] = [];
    const leavesSeenByA: string[] = [];
    const channels = clients.map((client, i) =>
      client.channel(topic, { config: { private: true, presence: { key: users[i]?.id ?? "" } } }),
    );
    const [chA, chB, chC] = channels as [RealtimeChannel, RealtimeChannel, RealtimeChannel];
    chA
      .on("presence", { event: "join" }, ({ key }) => joinsSeenByA.push(key))
      .on("presence", { event: "leave" }, ({ key }) => leavesSeenByA.push(key));
    chB.on("presence", { event: "sync" }, () => {});
    chC.on("presence", { event: "sync" }, () => {});
    for (const ch of channels) expect((await subscribe(ch)).status).toBe("SUBSCRIBED");

    expect(await chA.track({ status: "online" })).toBe("ok");
    expect(await chB.track({ status: "online" })).toBe("ok");
    expect(await chC.track({ status: "away" })).toBe("ok");
    const everyone = [alice.id, bob.id, carol.id].sort();
    await eventually(
      () => channels.every((ch) => online(ch).join() === everyone.join()),
      2000,
      "all three online",
    );
    expect(chB.presenceState()[carol.id]).toEqual([expect.objectContaining({ status: "away" })]);

    // An update: a leave of the old meta and a join of the new one, for the same key.
    expect(await chC.track({ status: "online" })).toBe("ok");
    await eventually(
      () => (chA.presenceState()[carol.id]?.[0] as { status?: string })?.status === "online",
      2000,
      "update",
    );
    expect(chA.presenceState()[carol.id]).toHaveLength(1);

    expect(await chB.untrack()).toBe("ok");
    await eventually(() => online(chA).join() === [alice.id, carol.id].sort().join(), 2000, "bob untracked");

    dropSocket(c);
    await eventually(() => online(chA).join() === alice.id, 3000, "carol's socket dropped");
    expect(online(chB)).toEqual([alice.id]);
    expect(leavesSeenByA).toEqual(expect.arrayContaining([bob.id, carol.id]));
    expect(joinsSeenByA).toEqual(expect.arrayContaining([alice.id, bob.id, carol.id]));
  });

  it("when a member joins after others tracked, then the first presence_state already lists them", async () => {
    const [alice, bob] = await rt.users(2);
    const roomId = await createRoom(rt.sql, alice, [bob]);
    const topic = `room:${roomId}:1:live`;
    const a = await rt.connect(alice);
    const b = await rt.connect(bob);
    const chA = a.channel(topic, { config: { private: true, presence: { key: alice.id } } });
    chA.on("presence", { event: "sync" }, () => {});
    await subscribe(chA);
    await chA.track({ mic: true });

    let synced = false;
    const chB = b.channel(topic, { config: { private: true, presence: { key: bob.id } } });
    chB.on("presence", { event: "sync" }, () => {
      synced = true;
    });
    await subscribe(chB);
    await eventually(() => synced, 2000, "bob's first sync");

    expect(chB.presenceState()[alice.id]).toEqual([expect.objectContaining({ mic: true })]);
  });

  it("when a client makes more than 5 presence calls in 30 seconds, then its channel is closed with the rate-limit message", async () => {
    const [alice] = await rt.users(1);
    const roomId = await createRoom(rt.sql, alice);
    const a = await rt.connect(alice);
    const ch = a.channel(`room:${roomId}:1:live`, { config: { private: true, presence: { key: alice.id } } });
    const { statuses, system, subscribed } = watch(ch);
    await subscribed;

    for (let i = 1; i <= 5; i++) expect(await ch.track({ typing: i })).toBe("ok");
    void ch.track({ typing: 6 });
    await eventually(() => statuses.includes("CLOSED"), 2000, "channel closed");

    expect(system).toEqual([
      expect.objectContaining({ status: "error", message: "Client presence rate limit exceeded" }),
    ]);
  });
});
