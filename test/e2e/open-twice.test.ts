import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoomkitClient } from "../../src/client/index.ts";
import { roomWith } from "../support/rooms.ts";
import type { TestStack } from "../support/stack.ts";
import { startE2EStack } from "../support/stack.ts";
import { must, signUpAll } from "../support/users.ts";
import { eventually, nextEvent, record } from "../support/wait.ts";

/**
 * Opening a room that is already open on the same supabase client: React StrictMode mounts, unmounts
 * and mounts again, so `openRoom` runs twice before the first session is closed.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await startE2EStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe("opening a room twice", () => {
  it("when openRoom runs twice at once (StrictMode), then both handles work and closing one leaves the other live", async () => {
    const [alice, bob] = await signUpAll(stack, "Alice", "Bob");
    const room = { id: await roomWith(alice, [bob], { name: "Twice" }) };

    const [first, second] = await Promise.all([bob.roomkit.openRoom(room.id), bob.roomkit.openRoom(room.id)]);
    expect(first.error).toBeNull();
    expect(second.error).toBeNull();
    const a = must(first);
    const b = must(second);
    const sawA = record(a);
    const sawB = record(b);

    must(await alice.roomkit.messages.send(room.id, "to both"));
    await eventually(() => sawA.message.length === 1 && sawB.message.length === 1);

    await a.close();
    expect(sawA.closed).toEqual([{ reason: "closed" }]);
    // Sentinel: B must get it; A, closed before it was sent, must not.
    const sentinel = nextEvent(b, "message", (m) => m.body === "sentinel");
    must(await alice.roomkit.messages.send(room.id, "sentinel"));
    await sentinel;
    expect(sawA.message.map((m) => m.body)).toEqual(["to both"]);
    expect(sawB.closed).toEqual([]);
    expect(b.messages.filter((m) => m.kind === "text").map((m) => m.body)).toEqual(["to both", "sentinel"]);

    await b.close();
    expect(sawB.closed).toEqual([{ reason: "closed" }]);
  });

  it("when a room is opened again after one handle was opened and closed, or through a second Roomkit client on the same supabase client, then it works", async () => {
    const [alice] = await signUpAll(stack, "Alice");
    const room = must(await alice.roomkit.rooms.create({ name: "Again", ai_mode: "off" }));
    const one = must(await alice.roomkit.openRoom(room.id));
    const other = createRoomkitClient(alice.supabase);
    const two = must(await other.openRoom(room.id));
    await one.close();
    await two.close();
    const three = must(await alice.roomkit.openRoom(room.id));
    const saw = record(three);
    must(await alice.roomkit.messages.send(room.id, "after reopening"));
    await eventually(() => saw.message.length === 1);
    await three.close();
  });
});
