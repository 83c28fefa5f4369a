import { SESSION_EVENTS } from "../../src/client/room-core.ts";
import type { RoomSession, RoomSessionEvents } from "../../src/client/session.ts";

/**
 * Waiting in tests: for a condition, for one event, and for a sentinel. A check that something
 * did NOT arrive waits for a sentinel that must arrive after it (a later message on the same
 * path), never for a fixed time: a sleep passes when delivery is merely slow.
 */

/** How often `eventually` looks again (ms). */
const POLL_MS = 20;

/**
 * Polls `check` until it returns a truthy value, and resolves with it. A check may throw (an
 * `expect` that does not hold yet): after `timeoutMs` its last error is rethrown, or, when it
 * returned a falsy value, an error naming `what`.
 *
 * @example
 * await eventually(() => got.length === 2, 2000, "both broadcasts");
 * const row = await eventually(async () => (await sql`select … `)[0]);
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await sleep(POLL_MS);
  }
}

/** Resolves after `ms`. Not for absence checks (see above); for pacing a sender or outliving a TTL. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The next `event` of `session` that satisfies `match`, or a failure after `timeoutMs`. Use it for
 * a sentinel: something that must arrive, after which the absence of something else is checked.
 *
 * @example
 * const sentinel = nextEvent(session, "message", (m) => m.body === "sentinel");
 * await send("sentinel");
 * await sentinel;
 * expect(saw.message.map((m) => m.body)).not.toContain("forged");
 */
export function nextEvent<K extends keyof RoomSessionEvents>(
  session: RoomSession,
  event: K,
  match: (arg: RoomSessionEvents[K][0]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<RoomSessionEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no ${String(event)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = session.on(
      event as "message",
      ((arg: RoomSessionEvents[K][0]) => {
        if (!match(arg)) return;
        clearTimeout(timer);
        stop();
        resolve(arg);
      }) as never,
    );
  });
}

/** Everything a session emitted, by event, in order. */
export type Recorded = { [K in keyof RoomSessionEvents]: RoomSessionEvents[K][0][] };

/** Records every event of `session`, to wait on (`eventually`) and to check afterwards. */
export function record(session: RoomSession): Recorded {
  const recorded = Object.fromEntries(SESSION_EVENTS.map((e) => [e, []])) as unknown as Recorded;
  for (const event of SESSION_EVENTS) {
    session.on(event as "message", (arg: unknown) => (recorded[event] as unknown[]).push(arg as never));
  }
  return recorded;
}
