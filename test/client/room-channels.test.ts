import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RoomkitRealtimeError } from "../../src/client/errors.ts";
import { realtimeErrorFor } from "../../src/client/realtime.ts";
import {
  type ChannelKind,
  type ChannelPort,
  type ChannelStatus,
  RESUBSCRIBE_DELAYS,
  RoomChannels,
} from "../../src/client/room-channels.ts";
import { fail, ok, type Result } from "../../src/client/transport.ts";
import { settle } from "./support.ts";

/** A channel of the fake port: its topic, and the hooks the test drives its status through. */
interface FakeChannel {
  topic: string;
  removed: boolean;
  status(status: ChannelStatus, error?: Error): void;
  systemError(message: string): void;
}

/**
 * A realtime stand-in: each join takes the next scripted outcome for its kind (default: joined).
 * Outcomes are a refusal reason, or "ok".
 */
function harness(options: { epoch?: number } = {}) {
  const outcomes: Record<ChannelKind, string[]> = { events: [], live: [] };
  const channels: FakeChannel[] = [];
  const joins: string[] = [];
  const seen = { live: [] as ChannelKind[], reconnecting: 0, ended: [] as string[] };
  let closed = false;
  let serverEpoch = options.epoch ?? 1;
  const port: ChannelPort<FakeChannel> = {
    async join(kind, topic, hooks) {
      joins.push(topic);
      const outcome = outcomes[kind].shift() ?? "ok";
      if (outcome !== "ok") return fail(realtimeErrorFor(outcome));
      const channel: FakeChannel = {
        topic,
        removed: false,
        status: (status, error) => hooks.onStatus(status, error, channel),
        systemError: (message) => hooks.onSystemError(message),
      };
      channels.push(channel);
      return ok(channel) as Result<FakeChannel>;
    },
    async remove(channel) {
      channel.removed = true;
    },
  };
  const rc = new RoomChannels<FakeChannel>({
    port,
    topic: (kind, epoch) => (kind === "events" ? `room:r:${epoch}` : `room:r:${epoch}:live`),
    readEpoch: async () => serverEpoch,
    onLive: (kind) => seen.live.push(kind),
    onReconnecting: () => seen.reconnecting++,
    onEnd: (reason) => {
      closed = true;
      seen.ended.push(reason);
    },
    closed: () => closed,
  });
  rc.adopt(options.epoch ?? 1);
  return {
    rc,
    joins,
    seen,
    outcomes,
    channel: (kind: ChannelKind) => rc.get(kind)!,
    setServerEpoch: (epoch: number) => {
      serverEpoch = epoch;
    },
    channels,
  };
}

const REFUSED = "Unauthorized: You do not have permissions to read from this Channel topic: room:r:1";

describe("channels and rejoin", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("when connecting, then both topics of the room's epoch are joined", async () => {
    const h = harness({ epoch: 3 });
    expect((await h.rc.connect()).error).toBeNull();
    expect(h.joins.sort()).toEqual(["room:r:3", "room:r:3:live"]);
  });

  it("when a join is refused because the epoch moved on meanwhile, then both are joined at the new epoch", async () => {
    const h = harness();
    h.outcomes.live.push(REFUSED);
    h.setServerEpoch(2);
    expect((await h.rc.connect()).error).toBeNull();
    expect(h.rc.epoch).toBe(2);
    expect(h.rc.get("events")?.topic).toBe("room:r:2");
    // The first events channel, joined at epoch 1, was left.
    expect(h.channels.find((c) => c.topic === "room:r:1")?.removed).toBe(true);
  });

  it("when a join is refused and the epoch has not moved, then connecting fails with unauthorized", async () => {
    const h = harness();
    h.outcomes.events.push(REFUSED);
    const { error } = await h.rc.connect();
    expect(error?.code).toBe("unauthorized");
    expect(h.rc.get("events")).toBeUndefined();
    expect(h.rc.get("live")).toBeUndefined();
  });

  it("when the server closes the events channel, then it is rejoined with backoff until it joins", async () => {
    const h = harness();
    await h.rc.connect();
    h.outcomes.events.push("boom", "boom", "ok");
    const first = h.channel("events");
    first.status("CLOSED");
    await settle();
    expect(h.seen.reconnecting).toBe(1);
    expect(first.removed).toBe(true);
    expect(h.joins.filter((t) => t === "room:r:1")).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(RESUBSCRIBE_DELAYS[0]! - 1);
    expect(h.joins.filter((t) => t === "room:r:1")).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.joins.filter((t) => t === "room:r:1")).toHaveLength(3);
    expect(h.seen.live).toEqual([]);
    await vi.advanceTimersByTimeAsync(RESUBSCRIBE_DELAYS[1]!);
    expect(h.joins.filter((t) => t === "room:r:1")).toHaveLength(4);
    expect(h.seen.live).toEqual(["events"]);
    expect(h.rc.get("events")).not.toBe(first);
  });

  it("when realtime-js reports a transient error, then it is left to rejoin by itself and the session shows reconnecting", async () => {
    const h = harness();
    await h.rc.connect();
    h.channel("events").status("CHANNEL_ERROR", new Error("transport failure"));
    h.channel("live").status("TIMED_OUT");
    await settle();
    expect(h.seen.reconnecting).toBe(1);
    expect(h.joins).toHaveLength(2);
    h.channel("events").status("SUBSCRIBED");
    expect(h.seen.live).toEqual(["events"]);
  });

  it("when the server says I am no longer permitted and closes the channel, then the session ends as revoked", async () => {
    const h = harness();
    await h.rc.connect();
    h.channel("live").systemError("You no longer have permission to read from this Channel topic");
    h.channel("live").status("CLOSED");
    expect(h.seen.ended).toEqual(["revoked"]);
  });

  it("when the server closes a channel because the token expired, then the session ends with token_expired", async () => {
    const h = harness();
    await h.rc.connect();
    h.channel("events").systemError("InvalidJWTToken: Token has expired 3 seconds ago");
    h.channel("events").status("CLOSED");
    expect(h.seen.ended).toEqual(["token_expired"]);
  });

  it("when a rejoin is refused (signed out), then the session ends with unauthorized", async () => {
    const h = harness();
    await h.rc.connect();
    h.channel("events").status("CHANNEL_ERROR", new RoomkitRealtimeError("unauthorized", REFUSED));
    expect(h.seen.ended).toEqual(["unauthorized"]);
  });

  it("when the room moves to a new epoch, then both channels are rejoined on its topics; an older epoch is ignored", async () => {
    const h = harness();
    await h.rc.connect();
    const old = [h.channel("events"), h.channel("live")];
    h.rc.moveTo(2);
    await settle();
    expect(old.map((c) => c.removed)).toEqual([true, true]);
    expect([h.channel("events").topic, h.channel("live").topic]).toEqual(["room:r:2", "room:r:2:live"]);
    expect(h.seen.live.sort()).toEqual(["events", "live"]);
    h.rc.moveTo(1);
    await settle();
    expect(h.joins).toHaveLength(4);
  });

  it("when a channel that was replaced reports a status, then it is ignored", async () => {
    const h = harness();
    await h.rc.connect();
    const old = h.channel("events");
    h.rc.moveTo(2);
    await settle();
    old.status("CLOSED");
    old.status("SUBSCRIBED");
    await settle();
    expect(h.seen.reconnecting).toBe(0);
    expect(h.seen.live.filter((k) => k === "events")).toHaveLength(1);
  });
});
