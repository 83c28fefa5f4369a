import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { MessagesClient } from "../../src/client/messages.ts";
import { RoomCore } from "../../src/client/room-core.ts";
import type { Message, Room } from "../../src/client/schemas.ts";
import type { Db, Result } from "../../src/client/transport.ts";
import { message, settle } from "./support.ts";

/**
 * The composed session against a fake supabase client: fake channels the test drives, a query
 * builder answering from fixtures, and a fake auth. Real timers are faked throughout.
 */

const ROOM = "00000000-0000-4000-8000-000000000001";
const ME = "00000000-0000-4000-8000-0000000000aa";
const BOB = "00000000-0000-4000-8000-0000000000bb";

type Status = "SUBSCRIBED" | "CHANNEL_ERROR" | "TIMED_OUT" | "CLOSED";

interface FakeChannel {
  topic: string;
  state: string;
  removed: boolean;
  handlers: { type: string; event?: string; cb: (payload: unknown) => void }[];
  status: (status: Status, error?: Error) => void;
  broadcast(event: string, payload: unknown): void;
}

function room(overrides: Partial<Room> = {}): Room {
  return {
    id: ROOM,
    kind: "private",
    name: "Room",
    description: null,
    capacity: null,
    status: "active",
    ai_mode: "off",
    epoch: 1,
    created_by: ME,
    created_at: "2026-01-01T00:00:00Z",
    ...overrides,
  } as Room;
}

function harness() {
  const channels: FakeChannel[] = [];
  const fixtures: Record<string, unknown> = {
    rooms: room(),
    profiles: { display_name: "Me" },
    room_members: [
      { user_id: ME, mic_enabled: false, profile: { display_name: "Me" } },
      { user_id: BOB, mic_enabled: false, profile: { display_name: "Bob" } },
    ],
  };
  let authListener: ((event: string) => void) | undefined;
  const builder = (table: string) => {
    const answer = { data: fixtures[table], error: null, status: 200 };
    const chain: Record<string, unknown> = {};
    for (const name of ["select", "eq", "is", "maybeSingle", "order", "limit", "or", "gte"])
      chain[name] = () => chain;
    // postgrest-js builders are thenables; so is this one.
    // biome-ignore lint/suspicious/noThenProperty: a fake query builder must be awaitable.
    chain.then = (resolve: (v: unknown) => void) => resolve(answer);
    return chain;
  };
  const db = {
    schema: () => ({ from: builder, rpc: () => builder("rpc") }),
    channel(topic: string) {
      let onStatus: ((s: Status, e?: Error) => void) | undefined;
      const channel: FakeChannel & Record<string, unknown> = {
        topic,
        state: "joining",
        removed: false,
        handlers: [],
        status: (s, e) => {
          channel.state = s === "SUBSCRIBED" ? "joined" : "errored";
          onStatus?.(s, e);
        },
        broadcast(event, payload) {
          for (const h of channel.handlers)
            if (h.type === "broadcast" && (h.event === "*" || h.event === event)) h.cb({ event, payload });
        },
        on(type: string, filter: { event?: string }, cb: (p: unknown) => void) {
          channel.handlers.push({ type, event: filter.event, cb });
          return channel;
        },
        subscribe(cb: (s: Status, e?: Error) => void) {
          onStatus = cb;
          queueMicrotask(() => channel.status("SUBSCRIBED"));
          return channel;
        },
        presenceState: () => ({}),
        track: async () => "ok",
        send: async () => "ok",
      };
      channels.push(channel);
      return channel;
    },
    async removeChannel(channel: FakeChannel) {
      channel.removed = true;
      return "ok";
    },
    auth: {
      onAuthStateChange(cb: (event: string) => void) {
        authListener = cb;
        return { data: { subscription: { unsubscribe: () => (authListener = undefined) } } };
      },
    },
  } as unknown as Db;

  const history: Message[] = [];
  const listAfter = vi.fn(async (): Promise<Result<Message[]>> => ({ data: [...history], error: null }));
  const messages = {
    list: async () => ({ data: { messages: [], next_cursor: null }, error: null }),
    listAfter,
  } as unknown as MessagesClient;

  const open = async () => {
    const opened = await RoomCore.open(
      ROOM,
      { db, messages, coworking: {} as never, userId: ME, onClosed: () => {} },
      {},
    );
    if (opened.error) throw opened.error;
    const core = opened.data;
    const seen = {
      messages: [] as string[],
      status: [] as string[],
      closed: [] as string[],
      resynced: [] as number[],
    };
    core.on("message", (m) => seen.messages.push(m.body ?? ""));
    core.on("status", (s) => seen.status.push(s));
    core.on("closed", ({ reason }) => seen.closed.push(reason));
    core.on("resynced", ({ added }) => seen.resynced.push(added));
    return { core, seen };
  };
  const current = (suffix: "" | ":live") =>
    channels.filter(
      (c) => !c.removed && c.topic.endsWith(suffix) && (suffix === ":live" || !c.topic.endsWith(":live")),
    );
  return {
    open,
    channels,
    events: () => current("")[0]!,
    fixtures,
    history,
    listAfter,
    auth: (event: string) => authListener?.(event),
  };
}

const memberRow = (userId: string, leftAt: string | null) => ({
  room_id: ROOM,
  user_id: userId,
  role: "member",
  left_at: leftAt,
  mic_enabled: false,
});

describe("the composed room session", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("when the events channel errors and rejoins, then the session shows reconnecting, then live, and reports what it missed in order", async () => {
    const h = harness();
    const { seen } = await h.open();
    h.history.push(message(1, { body: "missed one" }), message(2, { body: "missed two" }));
    h.events().status("CHANNEL_ERROR", new Error("transport failure"));
    h.events().status("SUBSCRIBED");
    await settle();
    expect(seen.status).toEqual(["reconnecting", "live"]);
    expect(seen.messages).toEqual(["missed one", "missed two"]);
    expect(seen.resynced).toEqual([2]);
  });

  it("when the token is refreshed twice within 10 s, then one catch-up runs; after 10 s, another", async () => {
    const h = harness();
    await h.open();
    h.auth("TOKEN_REFRESHED");
    h.auth("TOKEN_REFRESHED");
    await vi.advanceTimersByTimeAsync(0);
    expect(h.listAfter).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(10_000);
    h.auth("TOKEN_REFRESHED");
    await vi.advanceTimersByTimeAsync(0);
    expect(h.listAfter).toHaveBeenCalledTimes(2);
  });

  it("when my membership ends without a system message, then the session closes as removed after 1.5 s and does not follow the new epoch", async () => {
    const h = harness();
    const { seen } = await h.open();
    const joinsBefore = h.channels.length;
    h.events().broadcast("member.update", {
      record: memberRow(ME, "2026-01-01T00:00:09Z"),
      old_record: memberRow(ME, null),
    });
    h.events().broadcast("room.update", { record: room({ epoch: 2 }) });
    await settle();
    expect(h.channels.length).toBe(joinsBefore);
    await vi.advanceTimersByTimeAsync(1499);
    expect(seen.closed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen.closed).toEqual(["removed"]);
    expect(h.channels.every((c) => c.removed)).toBe(true);
  });

  it("when someone else leaves and the room moves to a new epoch, then both channels are rejoined on its topics and history is read again", async () => {
    const h = harness();
    await h.open();
    h.events().broadcast("member.update", {
      record: memberRow(BOB, "2026-01-01T00:00:09Z"),
      old_record: memberRow(BOB, null),
    });
    h.events().broadcast("room.update", { record: room({ epoch: 2 }) });
    await vi.advanceTimersByTimeAsync(0);
    const live = h.channels
      .filter((c) => !c.removed)
      .map((c) => c.topic)
      .sort();
    expect(live).toEqual([`room:${ROOM}:2`, `room:${ROOM}:2:live`]);
    expect(h.listAfter).toHaveBeenCalledTimes(1);
  });

  it("when the user signs out, then the session closes as unauthorized", async () => {
    const h = harness();
    const { seen } = await h.open();
    h.auth("SIGNED_OUT");
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.closed).toEqual(["unauthorized"]);
  });
});
