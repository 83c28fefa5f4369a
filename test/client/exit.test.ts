import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EXIT_REASON_WAIT_MS, ExitWatch } from "../../src/client/exit.ts";
import { message } from "./support.ts";

const ME = "00000000-0000-4000-8000-0000000000aa";
const OTHER = "00000000-0000-4000-8000-0000000000bb";

function harness() {
  const ended: string[] = [];
  const exit = new ExitWatch(ME, (reason) => ended.push(reason));
  return { exit, ended };
}

const systemAbout = (userId: string, event: string) =>
  message(1, { kind: "system", sender_id: null, metadata: { event, user_id: userId } });

describe("exit detection: left or removed", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("when I was leaving and my membership ends, then it is left at once", () => {
    const { exit, ended } = harness();
    exit.expectLeave();
    exit.membershipEnded();
    expect(ended).toEqual(["left"]);
  });

  it("when my membership ends and the system message says removed, then it is removed without waiting", () => {
    const { exit, ended } = harness();
    exit.membershipEnded();
    expect(exit.pending).toBe(true);
    exit.systemMessage(systemAbout(ME, "removed"));
    expect(ended).toEqual(["removed"]);
    vi.advanceTimersByTime(EXIT_REASON_WAIT_MS * 2);
    expect(ended).toEqual(["removed"]);
  });

  it("when my membership ends and the system message says I left (another device), then it is left", () => {
    const { exit, ended } = harness();
    exit.membershipEnded();
    exit.systemMessage(systemAbout(OTHER, "left"));
    exit.systemMessage(message(2, { body: "a chat message" }));
    expect(ended).toEqual([]);
    exit.systemMessage(systemAbout(ME, "left"));
    expect(ended).toEqual(["left"]);
  });

  it("when no system message about me follows, then it is removed after 1.5 s, not before", () => {
    const { exit, ended } = harness();
    exit.membershipEnded();
    exit.membershipEnded();
    vi.advanceTimersByTime(EXIT_REASON_WAIT_MS - 1);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ended).toEqual(["removed"]);
  });

  it("when a leave call failed, then a later end of membership is someone else's doing again", () => {
    const { exit, ended } = harness();
    exit.expectLeave();
    expect(exit.reasonFor("room_deleted")).toBe("left");
    exit.leaveFailed();
    expect(exit.reasonFor("room_deleted")).toBe("room_deleted");
    exit.membershipEnded();
    vi.advanceTimersByTime(EXIT_REASON_WAIT_MS);
    expect(ended).toEqual(["removed"]);
  });

  it("when the session ends while waiting, then the wait is dropped", () => {
    const { exit, ended } = harness();
    exit.membershipEnded();
    exit.cancel();
    vi.advanceTimersByTime(EXIT_REASON_WAIT_MS);
    expect(ended).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
