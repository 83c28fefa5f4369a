import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type LiveChannel, LiveSignals, type OnlineUser } from "../../src/client/live-signals.ts";
import type { RosterEntry } from "../../src/client/roster.ts";
import { SPEAKING_EXPIRY_MS, SPEAKING_REFRESH_MS, TYPING_EXPIRY_MS } from "../../src/client/signals.ts";
import { settle } from "./support.ts";

const ME = "00000000-0000-4000-8000-0000000000aa";
const BOB = "00000000-0000-4000-8000-0000000000bb";
const STRANGER = "00000000-0000-4000-8000-0000000000cc";

/** A `:live` channel stand-in recording what is sent and tracked; its presence state is settable. */
function fakeChannel() {
  const sent: { event: string; payload: Record<string, unknown> }[] = [];
  const tracked: Record<string, unknown>[] = [];
  let presence: Record<string, unknown[]> = {};
  const channel: LiveChannel & { state: string } = {
    state: "joined",
    async track(meta) {
      tracked.push(meta);
      return "ok";
    },
    async send(message) {
      sent.push({ event: message.event, payload: message.payload });
      return "ok";
    },
    presenceState: () => presence,
  };
  return { channel, sent, tracked, setPresence: (p: Record<string, unknown[]>) => (presence = p) };
}

function harness() {
  const ch = fakeChannel();
  const roster = new Map<string, RosterEntry>([
    [ME, { user_id: ME, display_name: "Me", mic_enabled: false }],
    [BOB, { user_id: BOB, display_name: "Bob", mic_enabled: true }],
  ]);
  const seen = {
    presence: [] as OnlineUser[][],
    typing: [] as string[][],
    speaking: [] as string[][],
    bursts: [] as string[],
  };
  const live = new LiveSignals({
    userId: ME,
    channel: () => ch.channel,
    member: (id) => roster.get(id),
    onPresence: (online) => seen.presence.push(online),
    onTyping: (ids) => seen.typing.push(ids),
    onSpeaking: (ids) => seen.speaking.push(ids),
    onBurst: (b) => seen.bursts.push(`${b.user_id}:${b.emoji}`),
    onError: () => {},
    closed: () => false,
  });
  return { live, ch, roster, seen };
}

describe("presence and signals", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("when a member types, then they show as typing until 5 s after their last signal, or until their message arrives", () => {
    const { live, seen } = harness();
    live.route("typing", { user_id: BOB, typing: true });
    expect(live.typingUsers).toEqual([BOB]);
    vi.advanceTimersByTime(TYPING_EXPIRY_MS - 1);
    live.route("typing", { user_id: BOB, typing: true });
    vi.advanceTimersByTime(TYPING_EXPIRY_MS - 1);
    expect(live.typingUsers).toEqual([BOB]);
    live.messageFrom(BOB);
    expect(live.typingUsers).toEqual([]);
    expect(seen.typing).toEqual([[BOB], []]);
  });

  it("when signals come from someone who is not a member, or from myself, or name a database event, then they are ignored", () => {
    const { live, seen } = harness();
    live.route("typing", { user_id: STRANGER, typing: true });
    live.route("typing", { user_id: ME, typing: true });
    live.route("message.insert", { user_id: BOB, record: {} });
    live.route("emoji_burst", { user_id: STRANGER, emoji: "🎉" });
    live.route("emoji_burst", { user_id: BOB, emoji: "🎉" });
    expect(live.typingUsers).toEqual([]);
    expect(seen.bursts).toEqual([`${BOB}:🎉`]);
  });

  it("when I speak, then it is broadcast at once and refreshed every 2 s until I stop", () => {
    const { live, ch } = harness();
    live.setSpeaking(true);
    live.setSpeaking(true);
    vi.advanceTimersByTime(SPEAKING_REFRESH_MS * 3);
    live.setSpeaking(false);
    vi.advanceTimersByTime(SPEAKING_REFRESH_MS * 3);
    expect(ch.sent.map((s) => s.payload.speaking)).toEqual([true, true, true, true, false]);
    expect(ch.sent.every((s) => s.event === "speaking" && s.payload.user_id === ME)).toBe(true);
  });

  it("when a speaker's 'stopped' is lost, then they stop speaking after 5 s; when they go offline, at once", () => {
    const { live, ch } = harness();
    live.route("speaking", { user_id: BOB, speaking: true });
    vi.advanceTimersByTime(SPEAKING_EXPIRY_MS);
    expect(live.speakingUsers).toEqual([]);
    live.route("speaking", { user_id: BOB, speaking: true });
    ch.setPresence({});
    live.sync();
    expect(live.speakingUsers).toEqual([]);
  });

  it("when presence names people, then only members show, with the roster's name and mic, whatever they claim", () => {
    const { live, ch, seen } = harness();
    ch.setPresence({
      [BOB]: [{ display_name: "The Admin", mic_enabled: false, status: "x".repeat(80), online_at: "t" }],
      [STRANGER]: [{ display_name: "Stranger", status: "online" }],
    });
    live.sync();
    expect(seen.presence.at(-1)).toEqual([
      { user_id: BOB, display_name: "Bob", mic_enabled: true, status: "x".repeat(50), online_at: "t" },
    ]);
  });

  it("when I type on every keystroke, then typing goes out at most once per 2 s, and stopping goes out once", () => {
    const { live, ch } = harness();
    for (let t = 0; t < 5000; t += 100) {
      live.typing();
      vi.advanceTimersByTime(100);
    }
    live.stopTyping();
    expect(ch.sent.map((s) => s.payload.typing)).toEqual([true, true, true, false]);
  });

  it("when I change my presence often, then at most 4 updates go out per 30 s and the latest state is sent last", async () => {
    const { live, ch } = harness();
    for (let i = 0; i < 10; i++) live.setPresence({ status: `s${i}` });
    await settle();
    expect(ch.tracked).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(ch.tracked.map((t) => t.status)).toEqual(["s0", "s1", "s2", "s3", "s9"]);
  });

  it("when the channel is not joined, then signals are dropped rather than sent over HTTP", () => {
    const { live, ch } = harness();
    ch.channel.state = "joining";
    live.burst("👏");
    live.typing();
    expect(ch.sent).toEqual([]);
  });

  it("when stopped, then no timer is left", () => {
    const { live } = harness();
    live.setSpeaking(true);
    live.route("typing", { user_id: BOB, typing: true });
    live.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
