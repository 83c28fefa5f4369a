/**
 * A room session's two channels and how they stay joined: `events` = `room:<id>:<epoch>` (database
 * and AI events; members may only receive) and `live` = `room:<id>:<epoch>:live` (members' signals
 * and presence). Realtime authorizes sends per topic, not per event, so events any member could
 * forge must not share a topic with them. {@link RoomChannels} joins both at the room's epoch,
 * rejoins them when the server closes one, follows the epoch when it moves, and says when the
 * session must end (refused, revoked, token expired). It talks to realtime through a
 * {@link ChannelPort}, so tests drive it with fake channels and a fake clock.
 */
import { type Clock, sleep, systemClock } from "./clock.ts";
import { type RoomkitError, RoomkitRealtimeError } from "./errors.ts";
import { NO_LONGER_PERMITTED, realtimeErrorFor, reasonOf } from "./realtime.ts";
import { fail, ok, type Result } from "./transport.ts";

/** Which of the session's two channels. */
export type ChannelKind = "events" | "live";

/** A channel's status after its first join, as realtime-js reports it. */
export type ChannelStatus = "SUBSCRIBED" | "CHANNEL_ERROR" | "TIMED_OUT" | "CLOSED";

/** Waits between attempts to rejoin a channel the server closed (ms); the last one repeats. */
export const RESUBSCRIBE_DELAYS = [500, 1000, 2000, 5000, 10_000];

/** How a {@link RoomChannels} reaches realtime (realtime-js in the library, fakes in tests). */
export interface ChannelPort<C> {
  /**
   * Creates a channel on `topic` with the session's listeners, subscribes, and resolves on the
   * first outcome: joined, or refused (then the channel is already removed). Later status changes
   * go to `hooks.onStatus`; `system` errors the server sends to `hooks.onSystemError`.
   */
  join(
    kind: ChannelKind,
    topic: string,
    hooks: {
      onStatus(status: ChannelStatus, error: Error | undefined, channel: C): void;
      onSystemError(message: string): void;
    },
  ): Promise<Result<C>>;
  remove(channel: C): Promise<void>;
}

/** Why the channels say the session must end. */
export type ChannelEnd = "revoked" | "unauthorized" | "token_expired";

/** What a {@link RoomChannels} needs from its session. */
export interface RoomChannelsDeps<C> {
  port: ChannelPort<C>;
  /** The topic of `kind` at `epoch` (`roomTopic` / `roomLiveTopic`). */
  topic(kind: ChannelKind, epoch: number): string;
  /** Re-reads the room's current epoch (undefined when it cannot be read). */
  readEpoch(): Promise<number | undefined>;
  /** A channel is joined again after its first join (rejoin, resubscribe, new epoch). */
  onLive(kind: ChannelKind): void;
  /** `room:<id>` lost its join; realtime-js or this class is getting it back. */
  onReconnecting(): void;
  /** The server will not have me on the room's channels any more. */
  onEnd(reason: ChannelEnd, error: RoomkitError): void;
  /** True once the session has ended. */
  closed(): boolean;
  clock?: Clock;
}

/**
 * The session's channels.
 *
 * @example
 * const channels = new RoomChannels({ port, topic, readEpoch, onLive, onReconnecting, onEnd, closed });
 * channels.adopt(room.epoch);
 * const { error } = await channels.connect();
 * channels.get("live")?.track(meta);
 */
export class RoomChannels<C> {
  private readonly deps: RoomChannelsDeps<C>;
  private readonly clock: Clock;
  private readonly joined: Partial<Record<ChannelKind, C>> = {};
  private readonly lastSystemError: Partial<Record<ChannelKind, string>> = {};
  private readonly resubscribing = new Set<ChannelKind>();
  private current = 0;

  constructor(deps: RoomChannelsDeps<C>) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
  }

  /** The epoch of the topics joined (rooms.epoch); it advances whenever a membership ends. */
  get epoch(): number {
    return this.current;
  }

  /** The joined channel of `kind`, if any. */
  get(kind: ChannelKind): C | undefined {
    return this.joined[kind];
  }

  /** Takes a newer epoch read from the room row (never goes back). */
  adopt(epoch: number): void {
    this.current = Math.max(this.current, epoch);
  }

  /**
   * Joins both topics; neither stays joined unless both are. A refusal because the epoch moved on
   * in the meantime is retried at the new epoch (twice at most).
   */
  async connect(): Promise<Result<null>> {
    for (let attempt = 0; ; attempt++) {
      const [events, live] = await Promise.all([this.join("events"), this.join("live")]);
      const failed = events.error ? events : live.error ? live : undefined;
      if (!failed) return ok(null);
      await this.removeAll();
      if (failed.error.code !== "unauthorized" || attempt >= 2 || !(await this.epochMoved())) return failed;
    }
  }

  /** The room moved to `epoch`: join its new topics (the old ones get nothing more). */
  moveTo(epoch: number): void {
    if (epoch <= this.current || this.deps.closed()) return;
    this.current = epoch;
    for (const kind of ["events", "live"] as const) void this.resubscribe(kind);
  }

  /** Leaves both channels. */
  async removeAll(): Promise<void> {
    for (const kind of ["events", "live"] as const) {
      const channel = this.joined[kind];
      this.joined[kind] = undefined;
      if (channel) await this.deps.port.remove(channel);
    }
  }

  private async join(kind: ChannelKind): Promise<Result<C>> {
    const joined = await this.deps.port.join(kind, this.deps.topic(kind, this.current), {
      onStatus: (status, error, channel) => this.onStatus(kind, channel, status, error),
      onSystemError: (message) => {
        this.lastSystemError[kind] = message;
      },
    });
    if (joined.error) return joined;
    if (this.deps.closed()) {
      await this.deps.port.remove(joined.data);
      return fail(new RoomkitRealtimeError("channel_error", "Session closed"));
    }
    this.joined[kind] = joined.data;
    return joined;
  }

  /**
   * Status after the first join. A `CLOSED` that follows a "no longer permitted" system error is a
   * revocation; an expired token ends the session; other closes are rejoined here (realtime-js will
   * not); errors and timeouts realtime-js rejoins by itself unless the server refused me.
   */
  private onStatus(kind: ChannelKind, channel: C | undefined, status: ChannelStatus, error?: Error): void {
    if (this.deps.closed() || (channel !== undefined && channel !== this.joined[kind])) return;
    if (status === "SUBSCRIBED") {
      this.deps.onLive(kind);
      return;
    }
    if (status === "CLOSED") {
      const reason = this.lastSystemError[kind] ?? "";
      this.lastSystemError[kind] = undefined;
      if (NO_LONGER_PERMITTED.test(reason)) {
        this.deps.onEnd("revoked", realtimeErrorFor(reason));
        return;
      }
      const closedBy = reason ? realtimeErrorFor(reason) : undefined;
      if (closedBy?.code === "token_expired") {
        this.deps.onEnd("token_expired", closedBy);
        return;
      }
      if (kind === "events") this.deps.onReconnecting();
      void this.resubscribe(kind);
      return;
    }
    const reason = reasonOf(error);
    const refusal = reason ? realtimeErrorFor(reason, error) : undefined;
    if (refusal && (refusal.code === "unauthorized" || refusal.code === "token_expired")) {
      this.deps.onEnd(refusal.code === "token_expired" ? "token_expired" : "unauthorized", refusal);
      return;
    }
    if (kind === "events") this.deps.onReconnecting();
  }

  /** A new channel for `kind`, with backoff, until joined or refused. */
  private async resubscribe(kind: ChannelKind): Promise<void> {
    if (this.resubscribing.has(kind)) return;
    this.resubscribing.add(kind);
    const old = this.joined[kind];
    this.joined[kind] = undefined;
    if (old) await this.deps.port.remove(old);
    try {
      for (let attempt = 0; !this.deps.closed(); attempt++) {
        const joined = await this.join(kind);
        if (!joined.error) {
          this.onStatus(kind, this.joined[kind], "SUBSCRIBED");
          return;
        }
        if (joined.error.code === "unauthorized" && (await this.epochMoved())) continue;
        if (joined.error.code === "unauthorized" || joined.error.code === "token_expired") {
          this.deps.onEnd(
            joined.error.code === "token_expired" ? "token_expired" : "unauthorized",
            joined.error,
          );
          return;
        }
        await sleep(this.clock, RESUBSCRIBE_DELAYS[Math.min(attempt, RESUBSCRIBE_DELAYS.length - 1)]!);
      }
    } finally {
      this.resubscribing.delete(kind);
    }
  }

  /** Re-reads the room's epoch: true (and adopted) when it has moved past the one joined. */
  private async epochMoved(): Promise<boolean> {
    const before = this.current;
    const epoch = await this.deps.readEpoch();
    if (epoch !== undefined) this.adopt(epoch);
    return this.current !== before;
  }
}
