/**
 * Why my membership ended. The membership row's `member.update` says only that it ended; the
 * system message written in the same transaction says whether I left or was removed, so an
 * {@link ExitWatch} waits a little for it before concluding `removed`.
 */
import { type Clock, systemClock, type TimerHandle } from "./clock.ts";
import type { Message } from "./schemas.ts";

/** How long to wait for the system message after my membership row says I am gone (ms). */
export const EXIT_REASON_WAIT_MS = 1500;

/** How an exit ends the session. */
export type ExitReason = "left" | "removed";

/**
 * Decides `left` or `removed` when my membership ends.
 *
 * @example
 * const exit = new ExitWatch(userId, (reason) => session.end(reason));
 * exit.expectLeave();           // before calling leave_room
 * exit.membershipEnded();       // from member.update
 * exit.systemMessage(row);      // every message announced
 */
export class ExitWatch {
  private readonly userId: string;
  private readonly end: (reason: ExitReason) => void;
  private readonly clock: Clock;
  private timer: TimerHandle | undefined;
  private intent: "leaving" | undefined;

  constructor(userId: string, end: (reason: ExitReason) => void, clock: Clock = systemClock) {
    this.userId = userId;
    this.end = end;
    this.clock = clock;
  }

  /** True after `expectLeave` (until `leaveFailed`). */
  get leaving(): boolean {
    return this.intent === "leaving";
  }

  /** True while waiting for the system message that names the reason. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  /** I am about to leave (here or through another sub-client): an end of membership is `left`. */
  expectLeave(): void {
    this.intent = "leaving";
  }

  /** The leave call failed: an end of membership is someone else's doing again. */
  leaveFailed(): void {
    this.intent = undefined;
  }

  /** What an end without a membership row to read (a server close, a deleted room) means. */
  reasonFor(otherwise: "removed" | "room_deleted"): "left" | "removed" | "room_deleted" {
    return this.leaving ? "left" : otherwise;
  }

  /** My membership row says I am gone. */
  membershipEnded(): void {
    if (this.leaving) {
      this.end("left");
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.end("removed");
    }, EXIT_REASON_WAIT_MS);
  }

  /** A message arrived: the system message about me settles a pending exit. */
  systemMessage(row: Message): void {
    if (this.timer === undefined || row.kind !== "system") return;
    const meta = row.metadata as { event?: unknown; user_id?: unknown } | null;
    if (meta?.user_id !== this.userId) return;
    if (meta.event !== "left" && meta.event !== "removed") return;
    this.cancel();
    this.end(meta.event);
  }

  /** Stops waiting (the session ended). */
  cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
