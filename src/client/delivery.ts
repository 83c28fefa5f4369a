/**
 * Ordered, exactly-once delivery of a room's messages: the live broadcasts, the initial page and
 * every catch-up from history after a reconnect go through one {@link Delivery}, which keeps them
 * in the server's order `(created_at, id)`, one per id, and holds live messages back while a
 * catch-up runs so that what was missed is reported first.
 */
import { type Clock, sleep, systemClock } from "./clock.ts";
import type { RoomkitError } from "./errors.ts";
import { MessageLog } from "./message-log.ts";
import { compareKeys, type OrderKey, orderKey } from "./order.ts";
import type { Message } from "./schemas.ts";
import type { Result } from "./transport.ts";

/** Rows per catch-up request. */
export const BACKFILL_PAGE = 100;
/** Waits between failed catch-up attempts (ms); after the last one the failure is reported. */
export const BACKFILL_RETRIES = [500, 1000, 2000, 5000];
/** Default overlap of a catch-up before the newest message held (ms); see {@link DeliveryOptions}. */
export const DEFAULT_OVERLAP_MS = 10_000;

/** Where a catch-up page starts: inclusive `since` (µs), or exclusive `after` an order key. */
export type BackfillFrom = { since?: number; after?: OrderKey };

/** What a {@link Delivery} reads and reports through. */
export interface DeliveryDeps {
  /** History after a point, oldest first (`messages.listAfter`). */
  listAfter(from: BackfillFrom, limit: number): Promise<Result<Message[]>>;
  /** A message new to the session, in order, once. */
  onMessage(row: Message): void;
  /** A newer version of a message held (soft delete). */
  onUpdated(row: Message): void;
  /** A catch-up finished; `added` messages had been missed live. */
  onResynced(added: number): void;
  /** A catch-up gave up. */
  onError(error: RoomkitError): void;
  /** True once the session has ended: nothing more is reported. */
  closed(): boolean;
}

/** Options of a {@link Delivery}. */
export interface DeliveryOptions {
  /**
   * How far before the newest message held a catch-up starts, in ms (default 10 000):
   * `created_at` is the sending transaction's start time and transactions commit in another order
   * than they start, so a message older than the newest one seen can become visible after it.
   */
  overlapMs?: number;
  clock?: Clock;
}

/**
 * The session's messages and how new ones are reported.
 *
 * @example
 * const delivery = new Delivery({ listAfter, onMessage: render, onUpdated: rerender,
 *   onResynced: () => {}, onError: console.error, closed: () => false });
 * delivery.accept(row);          // live
 * await delivery.backfill();     // after a reconnect
 */
export class Delivery {
  readonly log = new MessageLog();
  private readonly deps: DeliveryDeps;
  private readonly clock: Clock;
  private readonly overlapMicros: number;
  private running: Promise<void> | undefined;
  private again = false;
  private heldBack: Message[] | undefined;
  private added = 0;

  constructor(deps: DeliveryDeps, options: DeliveryOptions = {}) {
    this.deps = deps;
    this.clock = options.clock ?? systemClock;
    this.overlapMicros = (options.overlapMs ?? DEFAULT_OVERLAP_MS) * 1000;
  }

  /** Messages held, oldest first. */
  get messages(): readonly Message[] {
    return this.log.messages;
  }

  /** True while a catch-up runs (live messages are held back meanwhile). */
  get catchingUp(): boolean {
    return this.running !== undefined;
  }

  /** Stores without reporting (the initial page, older pages). Returns whether it was new. */
  store(row: Message): boolean {
    return this.log.ingest(row) === "added";
  }

  /** A message from a live broadcast or my own send: reported once, in order. */
  accept(row: Message, update = false): void {
    const outcome = this.log.ingest(row, { update });
    if (outcome === "added") this.announce(row);
    else if (outcome === "updated") this.deps.onUpdated(row);
  }

  /**
   * Re-reads history from just before the newest message held and reports what was missed.
   * Overlapping calls coalesce into one more pass; failures are retried with backoff.
   */
  backfill(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.heldBack ??= [];
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.withRetry();
        } while (this.again && !this.deps.closed());
      } finally {
        this.running = undefined;
        this.release();
        const added = this.added;
        this.added = 0;
        if (!this.deps.closed()) this.deps.onResynced(added);
      }
    })();
    return this.running;
  }

  /** While a catch-up runs, live messages wait: the ones it is looking for are older. */
  private announce(row: Message): void {
    if (this.heldBack) {
      this.heldBack.push(row);
      return;
    }
    this.deps.onMessage(row);
  }

  /** Ends a hold-back: everything held and found, in the server's order. */
  private release(): void {
    const held = this.heldBack ?? [];
    this.heldBack = undefined;
    held.sort((a, b) => compareKeys(orderKey(a), orderKey(b)));
    for (const row of held) if (!this.deps.closed()) this.announce(row);
  }

  private async withRetry(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const error = await this.once();
      if (!error || this.deps.closed()) return;
      const wait = BACKFILL_RETRIES[attempt];
      if (wait === undefined || error.code === "not_member" || error.code === "forbidden") {
        this.deps.onError(error);
        return;
      }
      await sleep(this.clock, wait);
    }
  }

  private async once(): Promise<RoomkitError | undefined> {
    const newest = this.log.newest;
    let from: BackfillFrom = newest ? { since: newest.micros - this.overlapMicros } : {};
    let added = 0;
    for (;;) {
      const page = await this.deps.listAfter(from, BACKFILL_PAGE);
      if (page.error) return page.error;
      if (this.deps.closed()) return undefined;
      for (const row of page.data) {
        if (this.log.ingest(row) === "added") {
          added++;
          this.announce(row);
        }
      }
      const last = page.data[page.data.length - 1];
      if (page.data.length < BACKFILL_PAGE || !last) break;
      from = { after: orderKey(last) };
    }
    this.added += added;
    return undefined;
  }
}
