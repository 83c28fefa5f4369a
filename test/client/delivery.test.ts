import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BACKFILL_PAGE, BACKFILL_RETRIES, type BackfillFrom, Delivery } from "../../src/client/delivery.ts";
import { RoomkitError } from "../../src/client/errors.ts";
import { toMicros } from "../../src/client/order.ts";
import type { Message } from "../../src/client/schemas.ts";
import type { Result } from "../../src/client/transport.ts";
import { message, networkDown, settle } from "./support.ts";

/** A Delivery over a scripted history: each `listAfter` takes the next answer (a function of `from`). */
function harness() {
  const answers: ((from: BackfillFrom) => Result<Message[]> | Promise<Result<Message[]>>)[] = [];
  const asked: BackfillFrom[] = [];
  const seen = {
    messages: [] as string[],
    updated: [] as string[],
    resynced: [] as number[],
    errors: [] as string[],
  };
  let closed = false;
  const delivery = new Delivery(
    {
      listAfter: async (from) => {
        asked.push(from);
        const next = answers.shift();
        if (!next) throw new Error("unexpected listAfter");
        return next(from);
      },
      onMessage: (row) => seen.messages.push(row.body ?? ""),
      onUpdated: (row) => seen.updated.push(row.body ?? ""),
      onResynced: (added) => seen.resynced.push(added),
      onError: (error) => seen.errors.push(error.code),
      closed: () => closed,
    },
    { overlapMs: 10_000 },
  );
  return {
    delivery,
    seen,
    asked,
    answer: (rows: Message[] | RoomkitError) =>
      answers.push(() =>
        rows instanceof RoomkitError ? { data: null, error: rows } : { data: rows, error: null },
      ),
    /** An answer the test releases later. */
    hold: () => {
      let release!: (rows: Message[]) => void;
      answers.push(() => new Promise((r) => (release = (rows) => r({ data: rows, error: null }))));
      return (rows: Message[]) => release(rows);
    },
    close: () => {
      closed = true;
    },
  };
}

describe("ordered exactly-once delivery with backfill", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("when a catch-up runs, then live messages wait and everything is reported once, in the server's order", async () => {
    const h = harness();
    const m1 = message(1, { body: "one" });
    h.delivery.accept(m1);
    const release = h.hold();
    const running = h.delivery.backfill();
    const m4 = message(4, { body: "four" });
    h.delivery.accept(m4);
    expect(h.seen.messages).toEqual(["one"]);
    release([m1, message(2, { body: "two" }), message(3, { body: "three" }), m4]);
    await running;
    expect(h.seen.messages).toEqual(["one", "two", "three", "four"]);
    // Two were missed live ("four" came live, only held back).
    expect(h.seen.resynced).toEqual([2]);
    // A late broadcast copy of a message the catch-up found is not reported again.
    h.delivery.accept(m4);
    expect(h.seen.messages).toHaveLength(4);
  });

  it("when a catch-up starts, then it reads from the overlap before the newest message held", async () => {
    const h = harness();
    const newest = message(30);
    h.delivery.store(message(10));
    h.delivery.store(newest);
    h.answer([]);
    await h.delivery.backfill();
    expect(h.asked).toEqual([{ since: toMicros(newest.created_at) - 10_000_000 }]);
  });

  it("when a catch-up finds a full page, then it continues after that page's last row", async () => {
    const h = harness();
    const page = Array.from({ length: BACKFILL_PAGE }, (_, i) => message(i));
    h.answer(page);
    h.answer([message(200)]);
    await h.delivery.backfill();
    expect(h.asked[1]).toEqual({ after: { micros: toMicros(page.at(-1)!.created_at), id: page.at(-1)!.id } });
    expect(h.seen.resynced).toEqual([BACKFILL_PAGE + 1]);
  });

  it("when history cannot be read, then the catch-up retries after 0.5, 1, 2 and 5 s and reports the error after the last", async () => {
    const h = harness();
    for (let i = 0; i <= BACKFILL_RETRIES.length; i++) h.answer(networkDown());
    const running = h.delivery.backfill();
    await settle();
    expect(h.asked).toHaveLength(1);
    for (const [i, wait] of BACKFILL_RETRIES.entries()) {
      await vi.advanceTimersByTimeAsync(wait - 1);
      expect(h.asked).toHaveLength(i + 1);
      await vi.advanceTimersByTimeAsync(1);
      expect(h.asked).toHaveLength(i + 2);
    }
    await running;
    expect(h.seen.errors).toEqual(["internal_error"]);
    expect(h.seen.resynced).toEqual([0]);
  });

  it("when a retry succeeds, then what was missed is reported and no error", async () => {
    const h = harness();
    h.answer(networkDown());
    h.answer([message(5, { body: "missed" })]);
    const running = h.delivery.backfill();
    await vi.advanceTimersByTimeAsync(BACKFILL_RETRIES[0]!);
    await running;
    expect(h.seen).toMatchObject({ messages: ["missed"], errors: [], resynced: [1] });
  });

  it("when I am no longer a member, then the catch-up gives up at once", async () => {
    const h = harness();
    h.answer(new RoomkitError("not_member", "gone"));
    await h.delivery.backfill();
    expect(h.seen.errors).toEqual(["not_member"]);
    expect(h.asked).toHaveLength(1);
  });

  it("when catch-ups are asked for while one runs, then they coalesce into one more pass", async () => {
    const h = harness();
    const release = h.hold();
    const first = h.delivery.backfill();
    const second = h.delivery.backfill();
    const third = h.delivery.backfill();
    expect(second).toBe(first);
    expect(third).toBe(first);
    h.answer([message(9, { body: "late" })]);
    release([]);
    await first;
    expect(h.asked).toHaveLength(2);
    expect(h.seen).toMatchObject({ messages: ["late"], resynced: [1] });
  });

  it("when the session closes during a catch-up, then nothing more is reported", async () => {
    const h = harness();
    const release = h.hold();
    const running = h.delivery.backfill();
    h.delivery.accept(message(3, { body: "held" }));
    h.close();
    release([message(2, { body: "found" })]);
    await running;
    expect(h.seen).toMatchObject({ messages: [], resynced: [] });
  });

  it("when a newer version of a held message arrives, then it is reported as updated, once", () => {
    const h = harness();
    const m = message(1, { body: "hi" });
    h.delivery.accept(m);
    const deleted = { ...m, body: null, deleted_at: new Date().toISOString() };
    h.delivery.accept(deleted, true);
    h.delivery.accept(deleted, true);
    expect(h.seen.updated).toHaveLength(1);
  });
});
