import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AiReplies } from "../../src/client/ai-stream.ts";
import { Emitter } from "../../src/client/emitter.ts";
import {
  ExpiringSet,
  PRESENCE_MAX_CALLS,
  PRESENCE_WINDOW_MS,
  PresenceScheduler,
  Throttle,
  TYPING_EXPIRY_MS,
  TYPING_THROTTLE_MS,
} from "../../src/client/signals.ts";

describe("typing, speaking and presence timing", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("when a user types for 5 s, keystroke after keystroke, then at most one typing broadcast goes out per 2 s", () => {
    const sent: boolean[] = [];
    const typing = new Throttle((on) => sent.push(on), TYPING_THROTTLE_MS);
    for (let t = 0; t < 5000; t += 100) {
      typing.ping();
      vi.advanceTimersByTime(100);
    }
    expect(sent).toEqual([true, true, true]);
    typing.stop();
    typing.stop();
    expect(sent).toEqual([true, true, true, false]);
  });

  it("when a typer stops sending, then they disappear after the expiry, and a new ping keeps them", () => {
    const changes: string[][] = [];
    const typers = new ExpiringSet<string>(TYPING_EXPIRY_MS, (ids) => changes.push(ids));
    typers.add("bob");
    vi.advanceTimersByTime(TYPING_EXPIRY_MS - 1);
    typers.add("bob");
    vi.advanceTimersByTime(TYPING_EXPIRY_MS - 1);
    expect(typers.members).toEqual(["bob"]);
    vi.advanceTimersByTime(1);
    expect(typers.members).toEqual([]);
    expect(changes).toEqual([["bob"], []]);
  });

  it("when presence changes ten times in a second, then only the allowed number goes out and the latest state follows later", () => {
    const sent: number[] = [];
    const presence = new PresenceScheduler<number>((s) => sent.push(s));
    for (let i = 1; i <= 10; i++) presence.update(i);
    expect(sent).toEqual([1, 2, 3, 4].slice(0, PRESENCE_MAX_CALLS));
    vi.advanceTimersByTime(PRESENCE_WINDOW_MS - 1);
    expect(sent).toHaveLength(PRESENCE_MAX_CALLS);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([1, 2, 3, 4, 10]);
    // Never more than the budget in any window: the 5-per-30 s server limit is not reached.
    presence.update(11);
    presence.update(12);
    vi.advanceTimersByTime(PRESENCE_WINDOW_MS * 2);
    expect(sent.at(-1)).toBe(12);
  });
});

describe("AI replies", () => {
  it("when deltas arrive out of order and repeated, then the text is assembled in seq order once", () => {
    const replies = new AiReplies();
    replies.handle("ai.typing", { reply_id: "r" });
    replies.handle("ai.delta", { reply_id: "r", seq: 1, text: "lo " });
    expect(replies.handle("ai.delta", { reply_id: "r", seq: 0, text: "Hel" })?.text).toBe("Hello ");
    replies.handle("ai.delta", { reply_id: "r", seq: 0, text: "Hel" });
    const last = replies.handle("ai.delta", { reply_id: "r", seq: 2, text: "world" });
    expect(last).toMatchObject({ status: "streaming", text: "Hello world" });
    const done = replies.handle("ai.done", { reply_id: "r", message_id: "m1" });
    expect(done).toMatchObject({ status: "done", message_id: "m1", text: "Hello world" });
    expect(replies.complete({ id: "m1", body: "Hello world" })).toBeUndefined();
    expect(replies.handle("ai.done", { reply_id: "r", message_id: "m1" })).toBeUndefined();
    expect(replies.active).toEqual([]);
  });

  it("when the stored message arrives before ai.done, then it finishes the reply and the late done is ignored", () => {
    const replies = new AiReplies();
    replies.handle("ai.typing", { reply_id: "r", attempt: 1 });
    replies.handle("ai.delta", { reply_id: "r", seq: 0, text: "Try Pira" });
    expect(replies.complete({ id: "m9", body: "Try Piranesi." })).toMatchObject({
      status: "done",
      message_id: "m9",
      text: "Try Piranesi.",
    });
    expect(replies.handle("ai.done", { reply_id: "r", message_id: "m9" })).toBeUndefined();
    expect(replies.handle("ai.delta", { reply_id: "r", seq: 1, text: "nesi." })).toBeUndefined();
  });

  it("when a reply fails and is retried, then the new attempt starts from empty text", () => {
    const replies = new AiReplies();
    replies.handle("ai.typing", { reply_id: "r", attempt: 1 });
    replies.handle("ai.delta", { reply_id: "r", seq: 0, text: "Half an ans" });
    expect(
      replies.handle("ai.error", { reply_id: "r", message: "stream broke", retrying: true }),
    ).toMatchObject({
      status: "error",
      retrying: true,
    });
    expect(replies.handle("ai.typing", { reply_id: "r", attempt: 2 })).toMatchObject({
      status: "typing",
      text: "",
    });
    expect(replies.handle("ai.delta", { reply_id: "r", seq: 0, text: "Whole" })?.text).toBe("Whole");
  });

  it("when a payload is malformed, then it is ignored", () => {
    const replies = new AiReplies();
    expect(replies.handle("ai.delta", { seq: 0, text: "x" })).toBeUndefined();
    expect(replies.handle("ai.delta", "nope")).toBeUndefined();
  });
});

describe("event emitter", () => {
  it("when a listener is removed, then it no longer hears events while others still do", () => {
    const e = new Emitter<{ ping: [number] }>();
    const a: number[] = [];
    const b: number[] = [];
    const offA = e.on("ping", (n) => a.push(n));
    e.on("ping", (n) => b.push(n));
    e.emit("ping", 1);
    offA();
    e.emit("ping", 2);
    expect(a).toEqual([1]);
    expect(b).toEqual([1, 2]);
  });
});
