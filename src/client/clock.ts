/**
 * Time as a room session sees it. Sessions take a clock instead of calling the timer globals, so
 * their parts can be tested with a fake one (or vitest's fake timers driving {@link systemClock}).
 */

/** A timer handle as the clock hands it out. */
export type TimerHandle = ReturnType<typeof setTimeout>;

/**
 * Time and timers.
 *
 * @example
 * const clock: Clock = systemClock;
 * const timer = clock.setTimeout(() => console.log("later"), 1000);
 * clock.clearTimeout(timer);
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(callback: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

/**
 * The real clock. It looks the globals up at each call, so vitest's fake timers drive it too.
 *
 * @example
 * await sleep(systemClock, 500);
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle),
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
