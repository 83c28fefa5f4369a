/**
 * Presence and signals of a room session, on `room:<id>:<epoch>:live`: who is online (presence,
 * spaced to stay under Supabase's 5 calls per 30 s), who is typing or speaking and emoji bursts
 * (broadcast, never presence). Everything others send is a claim: {@link LiveSignals} shows only
 * current members of the roster, by their profile names and membership mic state.
 */
import { SIGNAL_EVENTS } from "../../functions/_shared/contract.ts";
import { type Clock, systemClock, type TimerHandle } from "./clock.ts";
import { type RoomkitError, RoomkitRealtimeError } from "./errors.ts";
import type { RosterEntry } from "./roster.ts";
import {
  ExpiringSet,
  PresenceScheduler,
  SPEAKING_EXPIRY_MS,
  SPEAKING_REFRESH_MS,
  Throttle,
  TYPING_EXPIRY_MS,
  TYPING_THROTTLE_MS,
} from "./signals.ts";

/**
 * Someone online in the room (Realtime presence, keyed by user id).
 *
 * @example
 * session.on("presence", (users) => setOnline(users.map((u) => u.display_name)));
 */
export interface OnlineUser {
  user_id: string;
  display_name: string;
  /** Free-form status set with `setPresence` (default `online`). */
  status: string;
  mic_enabled: boolean;
  online_at: string;
}

/**
 * A fleeting emoji burst (not stored).
 *
 * @example
 * session.on("emoji_burst", ({ user_id, emoji }) => animate(emoji, user_id));
 */
export interface EmojiBurst {
  user_id: string;
  emoji: string;
}

/** The part of a realtime-js channel presence and signals use (a fake in tests). */
export interface LiveChannel {
  readonly state: string;
  track(meta: Record<string, unknown>): Promise<string>;
  send(message: { type: "broadcast"; event: string; payload: Record<string, unknown> }): Promise<string>;
  presenceState(): Record<string, unknown[]>;
}

/** What {@link LiveSignals} reads and reports through. */
export interface LiveSignalsDeps {
  userId: string;
  /** The joined `:live` channel, if any (signals are dropped while there is none). */
  channel(): LiveChannel | undefined;
  /** A current member, or undefined for anyone else. */
  member(userId: string): RosterEntry | undefined;
  onPresence(online: OnlineUser[]): void;
  onTyping(userIds: string[]): void;
  onSpeaking(userIds: string[]): void;
  onBurst(burst: EmojiBurst): void;
  onError(error: RoomkitError): void;
  closed(): boolean;
  clock?: Clock;
}

/**
 * Presence and signals, both ways.
 *
 * @example
 * const live = new LiveSignals(deps, { status: "online" });
 * live.route("typing", { user_id, typing: true }); // from the channel
 * live.typing();                                   // on a keystroke
 */
export class LiveSignals {
  private readonly deps: LiveSignalsDeps;
  private readonly clock: Clock;
  private readonly typers: ExpiringSet<string>;
  private readonly speakers: ExpiringSet<string>;
  private readonly typingOut: Throttle;
  private readonly presenceOut: PresenceScheduler<OnlineUser>;
  private speakingTimer: TimerHandle | undefined;
  private meta: OnlineUser;
  private current: OnlineUser[] = [];

  constructor(deps: LiveSignalsDeps, options: { status?: string } = {}) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    const now = () => this.clock.now();
    this.typers = new ExpiringSet(TYPING_EXPIRY_MS, (ids) => deps.onTyping(ids));
    this.speakers = new ExpiringSet(SPEAKING_EXPIRY_MS, (ids) => deps.onSpeaking(ids));
    this.typingOut = new Throttle(
      (typing) => this.signal(SIGNAL_EVENTS.typing, { typing }),
      TYPING_THROTTLE_MS,
      now,
    );
    this.presenceOut = new PresenceScheduler((meta) => this.track(meta), undefined, undefined, now);
    this.meta = {
      user_id: deps.userId,
      display_name: "",
      status: options.status ?? "online",
      mic_enabled: false,
      online_at: new Date(now()).toISOString(),
    };
  }

  /** Who is online now. */
  get online(): readonly OnlineUser[] {
    return this.current;
  }

  /** Ids of users typing now. */
  get typingUsers(): string[] {
    return this.typers.members;
  }

  /** Ids of users speaking now. */
  get speakingUsers(): string[] {
    return this.speakers.members;
  }

  /** Publishes my presence (again: after a rejoin of the `:live` channel). */
  publish(): void {
    this.presenceOut.update(this.meta);
  }

  /** Changes what others see of me and publishes it. */
  setPresence(changes: Partial<Pick<OnlineUser, "status" | "mic_enabled" | "display_name">>): void {
    this.meta = { ...this.meta, ...changes };
    this.presenceOut.update(this.meta);
  }

  /** My name for presence, before the first publish. */
  setDisplayName(name: string): void {
    this.meta = { ...this.meta, display_name: name };
  }

  /** A keystroke: at most one typing broadcast per 2 s. */
  typing(): void {
    this.typingOut.ping();
  }

  /** Clears my typing indicator for others now. */
  stopTyping(): void {
    this.typingOut.stop();
  }

  /** Speaking on or off: broadcast on change, refreshed every 2 s while speaking. */
  setSpeaking(speaking: boolean): void {
    if (speaking === (this.speakingTimer !== undefined)) return;
    if (this.speakingTimer !== undefined) this.clock.clearInterval(this.speakingTimer);
    this.speakingTimer = undefined;
    this.signal(SIGNAL_EVENTS.speaking, { speaking });
    if (speaking) {
      this.speakingTimer = this.clock.setInterval(
        () => this.signal(SIGNAL_EVENTS.speaking, { speaking: true }),
        SPEAKING_REFRESH_MS,
      );
    }
  }

  /** A passing emoji burst to everyone. */
  burst(emoji: string): void {
    this.signal(SIGNAL_EVENTS.burst, { emoji });
  }

  /**
   * A broadcast on the `:live` topic: typing, speaking and emoji bursts only, from current members
   * other than me. Database and AI event names arriving here are forgeries and are ignored.
   */
  route(event: string, payload: unknown): void {
    if (this.deps.closed() || typeof payload !== "object" || payload === null) return;
    const p = payload as Record<string, unknown>;
    const from = typeof p.user_id === "string" ? p.user_id : undefined;
    if (!from || from === this.deps.userId || !this.deps.member(from)) return;
    if (event === SIGNAL_EVENTS.typing) {
      if (p.typing === false) this.typers.delete(from);
      else this.typers.add(from);
    } else if (event === SIGNAL_EVENTS.speaking) {
      if (p.speaking === true) this.speakers.add(from);
      else this.speakers.delete(from);
    } else if (event === SIGNAL_EVENTS.burst && typeof p.emoji === "string") {
      this.deps.onBurst({ user_id: from, emoji: p.emoji });
    }
  }

  /** Someone's message arrived: they stopped typing. */
  messageFrom(userId: string): void {
    this.typers.delete(userId);
  }

  /** Someone left the room: they are neither typing nor speaking. */
  memberLeft(userId: string): void {
    this.speakers.delete(userId);
    this.typers.delete(userId);
  }

  /**
   * Presence changed (or the roster did): who is online, keyed by member id, with the roster's
   * names and mic state whatever the payload says. Speakers who went offline stop speaking.
   */
  sync(): void {
    const channel = this.deps.channel();
    if (!channel) return;
    const online: OnlineUser[] = [];
    for (const [key, metas] of Object.entries(channel.presenceState())) {
      const meta = metas[metas.length - 1] as Partial<OnlineUser> | undefined;
      const member = this.deps.member(key);
      if (!meta || !member) continue;
      online.push({
        user_id: member.user_id,
        display_name: member.display_name,
        status: typeof meta.status === "string" ? meta.status.slice(0, 50) : "online",
        mic_enabled: member.mic_enabled,
        online_at: typeof meta.online_at === "string" ? meta.online_at : "",
      });
    }
    online.sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
    for (const id of this.speakers.members)
      if (!online.some((u) => u.user_id === id)) this.speakers.delete(id);
    this.current = online;
    this.deps.onPresence(online);
  }

  /** Stops every timer and forgets who was typing or speaking. */
  stop(): void {
    if (this.speakingTimer !== undefined) this.clock.clearInterval(this.speakingTimer);
    this.speakingTimer = undefined;
    this.presenceOut.cancel();
    this.typers.clear();
    this.speakers.clear();
  }

  private track(meta: OnlineUser): void {
    const channel = this.deps.channel();
    if (channel?.state !== "joined") return;
    void channel.track({ ...meta }).then((status) => {
      if (status !== "ok" && !this.deps.closed()) {
        this.deps.onError(new RoomkitRealtimeError("channel_error", `Presence update ${status}`));
      }
    });
  }

  /** Ephemeral broadcast; dropped while not joined (realtime-js would fall back to HTTP). */
  private signal(event: string, payload: Record<string, unknown>): void {
    const channel = this.deps.channel();
    if (channel?.state !== "joined" || this.deps.closed()) return;
    void channel.send({ type: "broadcast", event, payload: { ...payload, user_id: this.deps.userId } });
  }
}
