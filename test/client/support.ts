import { randomUUID } from "node:crypto";
import { RoomkitHttpError } from "../../src/client/errors.ts";
import type { Message } from "../../src/client/schemas.ts";

/** A message row as the database broadcasts it; `second` places it in time. */
export function message(second: number, overrides: Partial<Message> = {}): Message {
  return {
    id: randomUUID(),
    room_id: "00000000-0000-4000-8000-000000000001",
    sender_id: "00000000-0000-4000-8000-000000000002",
    kind: "text",
    body: `at ${second}`,
    metadata: {},
    created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
    deleted_at: null,
    ...overrides,
  } as Message;
}

/** A failed request as the transport returns it. */
export function networkDown(): RoomkitHttpError {
  return new RoomkitHttpError("internal_error", "down", 503);
}

/** Lets pending promise callbacks run (under fake timers too). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
