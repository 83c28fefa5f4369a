/**
 * The server's message order, `(created_at, id)` (index room_messages_page_idx), computed
 * exactly. Postgres timestamps have microseconds and JavaScript dates only milliseconds, so
 * timestamps are compared as integer microseconds since the epoch (< 2^53 until year 2255).
 */

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * Microseconds since the epoch of a Postgres/ISO timestamp (`2026-11-22T10:00:00.123456+00:00`).
 * Throws on anything else: the server always sends this shape, so another one is a bug.
 *
 * @example
 * toMicros("1970-01-01T00:00:00.000001Z"); // 1
 */
export function toMicros(timestamp: string): number {
  const m = ISO.exec(timestamp);
  if (!m) throw new TypeError(`not an ISO timestamp: ${timestamp}`);
  const [, y, mo, d, h, mi, s, frac = "", zone = "Z"] = m;
  const seconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  const micros = Number(frac.padEnd(6, "0").slice(0, 6));
  let offsetMinutes = 0;
  if (zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0"));
  }
  return (seconds - offsetMinutes * 60) * 1_000_000 + micros;
}

/**
 * The UTC ISO form with six fractional digits, which PostgREST filters accept as timestamptz.
 *
 * @example
 * fromMicros(1); // "1970-01-01T00:00:00.000001Z"
 */
export function fromMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const base = new Date(ms).toISOString().slice(0, 19);
  const fraction = String(micros - Math.floor(micros / 1_000_000) * 1_000_000).padStart(6, "0");
  return `${base}.${fraction}Z`;
}

/** A message's place in the server order. */
export interface OrderKey {
  micros: number;
  id: string;
}

/** The order key of anything with `created_at` and `id`. */
export function orderKey(row: { created_at: string; id: string }): OrderKey {
  return { micros: toMicros(row.created_at), id: row.id };
}

/** Negative, zero or positive as `a` sorts before, with or after `b` (created_at, then id). */
export function compareKeys(a: OrderKey, b: OrderKey): number {
  if (a.micros !== b.micros) return a.micros < b.micros ? -1 : 1;
  // Postgres compares uuids bytewise, which for the lower-case hex text form is string order.
  const ai = a.id.toLowerCase();
  const bi = b.id.toLowerCase();
  return ai < bi ? -1 : ai > bi ? 1 : 0;
}

const CURSOR_SEPARATOR = "~";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An opaque page cursor for `messages.list({ before })`: the key of the oldest message of a page.
 *
 * @example
 * const cursor = encodeCursor(orderKey(oldest));
 */
export function encodeCursor(key: OrderKey): string {
  return `${fromMicros(key.micros)}${CURSOR_SEPARATOR}${key.id}`;
}

/** The key in a cursor from {@link encodeCursor}, or undefined when it is not one. */
export function decodeCursor(cursor: string): OrderKey | undefined {
  const [time, id, extra] = cursor.split(CURSOR_SEPARATOR);
  if (extra !== undefined || !time || !id || !UUID.test(id) || !ISO.test(time)) return undefined;
  return { micros: toMicros(time), id };
}

/**
 * A PostgREST `or` filter selecting rows strictly before (`lt`) or after (`gt`) `key` in the
 * (created_at, id) order: `created_at < t or (created_at = t and id < id0)`.
 */
export function keysetFilter(key: OrderKey, direction: "lt" | "gt"): string {
  const t = fromMicros(key.micros);
  return `created_at.${direction}.${t},and(created_at.eq.${t},id.${direction}.${key.id})`;
}
