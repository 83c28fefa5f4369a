/**
 * Timing of ephemeral signals: typing and speaking go over broadcast, throttled on the way out
 * and expiring on the way in; presence updates are spaced to stay under Supabase's per-client
 * presence limit. All timers are plain `setTimeout`, so tests drive them with fake timers.
 */

/**
 * Typing: at most one `typing` broadcast per this many ms while the user keeps typing.
 *
 * @example
 * input.addEventListener("input", () => session.typing()); // sends at most every TYPING_THROTTLE_MS
 */
export const TYPING_THROTTLE_MS = 2000;
/**
 * Typing: a typer disappears this long after their last `typing` broadcast.
 *
 * @example
 * vi.advanceTimersByTime(TYPING_EXPIRY_MS); // in a test: the typer is gone
 */
export const TYPING_EXPIRY_MS = 5000;
/** Speaking: while speaking, the sender repeats `speaking` this often so receivers' expiry never fires. */
export const SPEAKING_REFRESH_MS = 2000;
/**
 * Speaking: a speaker disappears this long after their last `speaking` broadcast.
 *
 * @example
 * vi.advanceTimersByTime(SPEAKING_EXPIRY_MS); // in a test: the silent speaker is gone
 */
export const SPEAKING_EXPIRY_MS = 5000;
/**
 * Supabase Realtime closes a channel whose client makes more than 5 presence calls (track +
 * untrack) in 30 s (`CLIENT_PRESENCE_MAX_CALLS`/`CLIENT_PRESENCE_WINDOW_MS`, realtime
 * config/runtime.exs; docs limits.mdx). We use 4 and keep one for the final untrack.
 *
 * @example
 * const minSpacingMs = PRESENCE_WINDOW_MS / PRESENCE_MAX_CALLS; // 7500
 */
export const PRESENCE_MAX_CALLS = 4;
/**
 * Presence: the window in ms over which at most `PRESENCE_MAX_CALLS` presence calls are made.
 *
 * @example
 * const callsPerMinute = (PRESENCE_MAX_CALLS * 60_000) / PRESENCE_WINDOW_MS; // 8
 */
export const PRESENCE_WINDOW_MS = 30_000;

/**
 * Sends "I am typing" at most once per `intervalMs` however often `ping()` is called, and
 * "stopped" once when `stop()` follows a ping.
 *
 * @example
 * const typing = new Throttle((on) => channel.send({ type: "broadcast", event: "typing", payload: { on } }));
 * input.oninput = () => typing.ping();
 */
export class Throttle {
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private active = false;

  constructor(
    private readonly send: (active: boolean) => void,
    private readonly intervalMs = TYPING_THROTTLE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The user is typing (call on every keystroke). Returns true when a broadcast went out. */
  ping(): boolean {
    const t = this.now();
    this.active = true;
    if (t - this.lastSentAt < this.intervalMs) return false;
    this.lastSentAt = t;
    this.send(true);
    return true;
  }

  /** The user stopped (sent the message, cleared the input). Returns true when a broadcast went out. */
  stop(): boolean {
    if (!this.active) return false;
    this.active = false;
    this.lastSentAt = Number.NEGATIVE_INFINITY;
    this.send(false);
    return true;
  }
}

/**
 * A set whose members vanish `ttlMs` after they were last added, reporting every change.
 *
 * @example
 * const typers = new ExpiringSet<string>(5000, (ids) => render(ids));
 * typers.add(userId);
 */
export class ExpiringSet<K> {
  private readonly timers = new Map<K, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly ttlMs: number,
    private readonly onChange: (members: K[]) => void,
  ) {}

  get members(): K[] {
    return [...this.timers.keys()];
  }

  add(key: K): void {
    const had = this.timers.has(key);
    const old = this.timers.get(key);
    if (old !== undefined) clearTimeout(old);
    this.timers.set(
      key,
      setTimeout(() => this.delete(key), this.ttlMs),
    );
    if (!had) this.onChange(this.members);
  }

  delete(key: K): void {
    const timer = this.timers.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(key);
    this.onChange(this.members);
  }

  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    const had = this.timers.size > 0;
    this.timers.clear();
    if (had) this.onChange([]);
  }
}

/**
 * Spaces presence updates so that no more than `maxCalls` go out per `windowMs`; updates
 * asked for in between are coalesced and the latest state goes out as soon as the window allows.
 *
 * @example
 * const presence = new PresenceScheduler((state) => channel.track(state));
 * presence.update({ status: "away" });
 */
export class PresenceScheduler<S> {
  private sentAt: number[] = [];
  private pending: { state: S } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly send: (state: S) => void,
    private readonly maxCalls = PRESENCE_MAX_CALLS,
    private readonly windowMs = PRESENCE_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Publishes `state` now if the budget allows, else as soon as it does (replacing any queued state). */
  update(state: S): void {
    this.pending = { state };
    this.flush();
  }

  /** Drops a queued update (the session is closing). */
  cancel(): void {
    this.pending = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    if (!this.pending || this.timer !== undefined) return;
    const t = this.now();
    this.sentAt = this.sentAt.filter((s) => t - s < this.windowMs);
    if (this.sentAt.length < this.maxCalls) {
      const { state } = this.pending;
      this.pending = undefined;
      this.sentAt.push(t);
      this.send(state);
      return;
    }
    const wait = this.sentAt[0]! + this.windowMs - t;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }
}
