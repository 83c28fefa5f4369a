import { compareKeys, type OrderKey, orderKey } from "./order.ts";
import type { Message } from "./schemas.ts";

/** What happened to a message handed to {@link MessageLog.ingest}. */
export type IngestOutcome = "added" | "updated" | "duplicate" | "ignored";

/**
 * The messages a room session holds: one entry per id, always sorted in the server's order
 * `(created_at, id)`, whatever order they arrived in (live broadcast, initial page, backfill,
 * older pages).
 *
 * @example
 * const log = new MessageLog();
 * log.ingest(row); // "added"
 * log.ingest(row); // "duplicate"
 */
export class MessageLog {
  private readonly rows: Message[] = [];
  private readonly keys: OrderKey[] = [];
  private readonly byId = new Map<string, Message>();

  /** Messages oldest first. */
  get messages(): readonly Message[] {
    return this.rows;
  }

  get size(): number {
    return this.rows.length;
  }

  /** Key of the newest message held (where backfill resumes). */
  get newest(): OrderKey | undefined {
    return this.keys[this.keys.length - 1];
  }

  /** Key of the oldest message held (where scrolling back resumes). */
  get oldest(): OrderKey | undefined {
    return this.keys[0];
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): Message | undefined {
    return this.byId.get(id);
  }

  /**
   * Adds a message in order, or replaces the stored copy when `row` is a newer version of it
   * (soft delete, edits: a different `deleted_at`/`body`/`metadata`).
   * With `update`, a version of a message never seen is dropped when it is older than the oldest
   * held (outside the loaded window) and added otherwise (its insert was missed).
   */
  ingest(row: Message, options: { update?: boolean } = {}): IngestOutcome {
    const existing = this.byId.get(row.id);
    if (existing) {
      if (!options.update || sameVersion(existing, row)) return "duplicate";
      const index = this.indexOf(orderKey(existing));
      this.rows[index] = row;
      this.byId.set(row.id, row);
      return "updated";
    }
    const key = orderKey(row);
    const oldest = this.oldest;
    if (options.update && oldest && compareKeys(key, oldest) < 0) return "ignored";
    const index = this.insertionPoint(key);
    this.rows.splice(index, 0, row);
    this.keys.splice(index, 0, key);
    this.byId.set(row.id, row);
    return "added";
  }

  private insertionPoint(key: OrderKey): number {
    let lo = 0;
    let hi = this.keys.length;
    // Live messages almost always go last: check that before bisecting.
    if (hi > 0 && compareKeys(this.keys[hi - 1]!, key) < 0) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(this.keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexOf(key: OrderKey): number {
    return this.insertionPoint(key);
  }
}

function sameVersion(a: Message, b: Message): boolean {
  return (
    a.deleted_at === b.deleted_at &&
    a.body === b.body &&
    JSON.stringify(a.metadata) === JSON.stringify(b.metadata)
  );
}
