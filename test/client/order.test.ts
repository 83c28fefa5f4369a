import { describe, expect, it } from "vitest";
import { MessageLog } from "../../src/client/message-log.ts";
import {
  compareKeys,
  decodeCursor,
  encodeCursor,
  fromMicros,
  keysetFilter,
  orderKey,
  toMicros,
} from "../../src/client/order.ts";
import type { Message } from "../../src/client/schemas.ts";

const ROOM = "11111111-1111-4111-8111-111111111111";

function message(id: string, createdAt: string, extra: Partial<Message> = {}): Message {
  return {
    id,
    room_id: ROOM,
    sender_id: null,
    kind: "text",
    body: `m ${id}`,
    metadata: {},
    created_at: createdAt,
    deleted_at: null,
    ...extra,
  };
}

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

describe("server order of messages", () => {
  it("when two timestamps differ only in microseconds, then the later one sorts after", () => {
    const a = toMicros("2026-11-22T10:00:00.123456+00:00");
    const b = toMicros("2026-11-22T10:00:00.123457+00:00");
    expect(b - a).toBe(1);
  });

  it("when the same instant is written with another offset or fewer digits, then it is the same key", () => {
    expect(toMicros("2026-11-22T12:00:00.5+02:00")).toBe(toMicros("2026-11-22T10:00:00.500000Z"));
    expect(toMicros("2026-11-22 10:00:00.5+00")).toBe(toMicros("2026-11-22T10:00:00.500000Z"));
  });

  it("when a key is written back, then it round-trips with six fractional digits", () => {
    const micros = toMicros("2026-11-22T10:00:00.000042Z");
    expect(fromMicros(micros)).toBe("2026-11-22T10:00:00.000042Z");
  });

  it("when timestamps are equal, then the id breaks the tie like Postgres' uuid order", () => {
    const t = "2026-11-22T10:00:00Z";
    expect(
      compareKeys(orderKey({ created_at: t, id: uuid(1) }), orderKey({ created_at: t, id: uuid(2) })),
    ).toBe(-1);
  });

  it("when a cursor is encoded, then it decodes to the same key, and garbage decodes to nothing", () => {
    const key = orderKey({ created_at: "2026-11-22T10:00:00.000001Z", id: uuid(7) });
    expect(decodeCursor(encodeCursor(key))).toEqual(key);
    expect(decodeCursor("not-a-cursor")).toBeUndefined();
    expect(decodeCursor(`2026-11-22T10:00:00Z~${uuid(1)}~x`)).toBeUndefined();
  });

  it("when a keyset filter is built, then it compares created_at first and id on ties", () => {
    const key = orderKey({ created_at: "2026-11-22T10:00:00.000001Z", id: uuid(7) });
    expect(keysetFilter(key, "lt")).toBe(
      `created_at.lt.2026-11-22T10:00:00.000001Z,and(created_at.eq.2026-11-22T10:00:00.000001Z,id.lt.${uuid(7)})`,
    );
  });
});

describe("message log", () => {
  it("when messages arrive out of order and twice, then the log holds each once in server order", () => {
    const log = new MessageLog();
    const rows = [
      message(uuid(3), "2026-11-22T10:00:03Z"),
      message(uuid(1), "2026-11-22T10:00:01Z"),
      message(uuid(2), "2026-11-22T10:00:01Z"),
      message(uuid(4), "2026-11-22T10:00:04Z"),
    ];
    const outcomes = [...rows, rows[0]!, rows[1]!].map((r) => log.ingest(r));
    expect(outcomes).toEqual(["added", "added", "added", "added", "duplicate", "duplicate"]);
    expect(log.messages.map((m) => m.id)).toEqual([uuid(1), uuid(2), uuid(3), uuid(4)]);
    expect(log.newest?.id).toBe(uuid(4));
    expect(log.oldest?.id).toBe(uuid(1));
  });

  it("when a known message is deleted, then the update replaces it in place", () => {
    const log = new MessageLog();
    log.ingest(message(uuid(1), "2026-11-22T10:00:01Z"));
    log.ingest(message(uuid(2), "2026-11-22T10:00:02Z"));
    const deleted = message(uuid(1), "2026-11-22T10:00:01Z", {
      body: null,
      deleted_at: "2026-11-22T10:05:00Z",
    });
    expect(log.ingest(deleted, { update: true })).toBe("updated");
    expect(log.ingest(deleted, { update: true })).toBe("duplicate");
    expect(log.messages[0]).toEqual(deleted);
  });

  it("when an update concerns a message older than the loaded window, then it is ignored", () => {
    const log = new MessageLog();
    log.ingest(message(uuid(5), "2026-11-22T10:00:05Z"));
    expect(log.ingest(message(uuid(1), "2026-11-22T10:00:01Z"), { update: true })).toBe("ignored");
    expect(log.ingest(message(uuid(9), "2026-11-22T10:00:09Z"), { update: true })).toBe("added");
    expect(log.size).toBe(2);
  });
});
