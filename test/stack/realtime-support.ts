import type { RealtimeChannel, SupabaseClient } from "@supabase/supabase-js";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { WebSocket } from "ws";
import type { Database } from "../../functions/_shared/database.types.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { accessToken, insertUsers, startAuthSession, type User } from "../support/users.ts";

/**
 * Helpers for the realtime suites: users made directly in auth.users (with their profile, by the
 * app's trigger) and signed tokens, so these tests need only the realtime surface, and
 * supabase-js clients whose Realtime uses the `ws` package (Node 20 has no global WebSocket).
 */

/** A user made in SQL with a live Auth session, whose tokens carry its `session_id` as Auth's do. */
export interface TestUser extends User {
  /** A fresh access token for this user, valid `ttlSeconds` (default 1 h). */
  token(ttlSeconds?: number): Promise<string>;
}

export function superuser(stack: TestStack): postgres.Sql {
  if (!stack.dbUrl) throw new Error("realtime tests need the database URL");
  return postgres(stack.dbUrl, { max: 3, onnotice: () => {} });
}

/** `count` users made in SQL at once, each with an Auth session (an `auth.sessions` row). */
export async function createUsers(stack: TestStack, sql: postgres.Sql, count: number): Promise<TestUser[]> {
  const users = await insertUsers(
    sql,
    Array.from({ length: count }, () => ({})),
  );
  return Promise.all(
    users.map(async (user) => {
      const sessionId = await startAuthSession(sql, user);
      const secret = stack.jwtSecret ?? "";
      return { ...user, token: (ttlSeconds = 3600) => accessToken(secret, user, { ttlSeconds, sessionId }) };
    }),
  );
}

/**
 * A private room owned by `owner`, with `members` as plain members, inserted straight into the
 * tables: unlike `privateRoom` (support/rooms.ts) it sends no invites and writes no system
 * messages, so no broadcast from the arrangement can reach a channel the test opens next.
 */
export async function createRoom(
  sql: postgres.Sql,
  owner: TestUser,
  members: TestUser[] = [],
): Promise<string> {
  const [room] = await sql<{ id: string }[]>`
    insert into roomkit.rooms (kind, name, ai_mode, created_by) values ('private', 'Realtime test', 'off', ${owner.id})
    returning id`;
  if (!room) throw new Error("room not created");
  await sql`insert into roomkit.room_members (room_id, user_id, role) values (${room.id}, ${owner.id}, 'owner')`;
  for (const m of members)
    await sql`insert into roomkit.room_members (room_id, user_id, role) values (${room.id}, ${m.id}, 'member')`;
  return room.id;
}

/** A supabase-js client on Roomkit's schema. */
export type RoomkitClient = SupabaseClient<Database, "roomkit">;

/**
 * A supabase-js client whose Realtime authenticates with `token.current`. The token is fetched
 * before returning: a join sent before the `accessToken` callback resolved would carry only the
 * anon key (realtime-js reads `accessTokenValue` when `subscribe()` is called).
 */
export async function realtimeClient(
  stack: TestStack,
  token: { current: string | null },
): Promise<RoomkitClient> {
  const client = createClient(stack.url, stack.anonKey, {
    db: { schema: "roomkit" },
    accessToken: async () => token.current,
    realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
  });
  await client.realtime.setAuth();
  return client;
}

export interface SubscribeOutcome {
  status: "SUBSCRIBED" | "CHANNEL_ERROR" | "TIMED_OUT" | "CLOSED";
  error?: Error;
}

/** What a broadcast listener receives. */
export interface Received {
  event: string;
  payload: Record<string, unknown>;
  meta?: { id?: string; replayed?: boolean };
}

/** A listener that appends what it receives to `list`. */
export function into(list: Received[]): (m: unknown) => void {
  return (m) => {
    list.push(m as Received);
  };
}

/** Subscribes and resolves with the first status realtime-js reports. */
export function subscribe(channel: RealtimeChannel): Promise<SubscribeOutcome> {
  return new Promise((resolve) => {
    channel.subscribe((status, error) => {
      if (status === "SUBSCRIBED") resolve({ status });
      else resolve({ status, error });
    });
  });
}

/** Users `N` long, so `const [alice, bob] = await rt.users(2)` needs no checks. */
type Users<N extends number, Acc extends TestUser[] = []> = Acc["length"] extends N
  ? Acc
  : Users<N, [...Acc, TestUser]>;

/**
 * One local stack (no functions) for a realtime test file, with a superuser connection, and
 * shorthands for the usual arrangement: users, a room, clients signed in as them. Clients made
 * through `client`/`connect` lose their channels after each test.
 */
export interface RealtimeStack {
  readonly stack: TestStack;
  readonly sql: postgres.Sql;
  /** `count` new users, made at once. */
  users<N extends number>(count: N): Promise<Users<N>>;
  /** A supabase-js Realtime client authenticating with `token.current`; cleaned up after the test. */
  client(token: { current: string | null }): Promise<RoomkitClient>;
  /** A client signed in as `user` with a fresh token valid `ttlSeconds` (default 1 h). */
  connect(user: TestUser, ttlSeconds?: number): Promise<RoomkitClient>;
}

/** Starts the stack before the file's tests and stops it after them (call at the top of the file). */
export function useRealtimeStack(): RealtimeStack {
  let stack: TestStack | undefined;
  let sql: postgres.Sql | undefined;
  let opened: RoomkitClient[] = [];
  beforeAll(async () => {
    stack = await startTestStack({ functions: false });
    sql = superuser(stack);
  });
  afterEach(async () => {
    const clients = opened;
    opened = [];
    await Promise.all(clients.map((c) => c.removeAllChannels()));
  });
  afterAll(async () => {
    await sql?.end();
    await stack?.stop();
  });
  const rt: RealtimeStack = {
    get stack() {
      if (!stack) throw new Error("the realtime stack is not started (use it inside a test)");
      return stack;
    },
    get sql() {
      if (!sql) throw new Error("the realtime stack is not started (use it inside a test)");
      return sql;
    },
    async users<N extends number>(count: N) {
      return (await createUsers(rt.stack, rt.sql, count)) as Users<N>;
    },
    async client(token) {
      const client = await realtimeClient(rt.stack, token);
      opened.push(client);
      return client;
    },
    async connect(user, ttlSeconds) {
      return rt.client({ current: await user.token(ttlSeconds) });
    },
  };
  return rt;
}

export interface JoinOptions {
  /** Broadcast events to collect into `got` (default none). */
  events?: string[];
  /** Default true. */
  private?: boolean;
  broadcast?: { self?: boolean; ack?: boolean };
}

/**
 * Opens `topic` on `client` (private unless told otherwise), collects the named broadcast events
 * into `got`, subscribes and expects SUBSCRIBED.
 */
export async function join(
  client: Pick<SupabaseClient, "channel">,
  topic: string,
  options: JoinOptions = {},
): Promise<{ channel: RealtimeChannel; got: Received[] }> {
  const got: Received[] = [];
  const config = {
    private: options.private ?? true,
    ...(options.broadcast ? { broadcast: options.broadcast } : {}),
  };
  const channel = client.channel(topic, { config });
  for (const event of options.events ?? []) channel.on("broadcast", { event }, into(got));
  expect(await subscribe(channel)).toEqual({ status: "SUBSCRIBED" });
  return { channel, got };
}

/** Expects a private join of `topic` to be refused for lack of read permission. */
export async function expectReadRefused(
  client: Pick<SupabaseClient, "channel">,
  topic: string,
): Promise<void> {
  const outcome = await subscribe(client.channel(topic, { config: { private: true } }));
  expect(outcome.status).toBe("CHANNEL_ERROR");
  expect(outcome.error?.message).toBe(
    `Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`,
  );
}

/** One message of Realtime's HTTP broadcast endpoint. */
export interface HttpMessage {
  topic: string;
  event: string;
  payload: unknown;
  private?: boolean;
  id?: string;
}

/** POSTs `messages` to `/realtime/v1/api/broadcast` with `token` (and the anon key unless `apikey` is given). */
export function httpBroadcast(
  stack: TestStack,
  token: string,
  messages: HttpMessage[],
  apikey = stack.anonKey,
): Promise<Response> {
  return fetch(`${stack.url}/realtime/v1/api/broadcast`, {
    method: "POST",
    headers: { apikey, authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ messages }),
  });
}

/** Inserts a room message as `senderId` straight into the table; resolves with its id. */
export async function insertMessage(
  sql: postgres.Sql,
  roomId: string,
  senderId: string,
  body: string,
): Promise<string | undefined> {
  const [row] = await sql<{ id: string }[]>`
    insert into roomkit.room_messages (room_id, sender_id, body) values (${roomId}, ${senderId}, ${body})
    returning id`;
  return row?.id;
}

/** A system event realtime sends on a channel (errors, closes). */
export interface SystemEvent {
  extension?: string;
  status?: string;
  message?: string;
  channel?: string;
}

/**
 * Subscribes and records every status realtime-js reports and every system event;
 * `subscribed` resolves on the first SUBSCRIBED and rejects on CHANNEL_ERROR before it.
 */
export function watch(channel: RealtimeChannel): {
  statuses: string[];
  system: SystemEvent[];
  subscribed: Promise<void>;
} {
  const statuses: string[] = [];
  const system: SystemEvent[] = [];
  channel.on("system", {}, (p) => system.push(p));
  const subscribed = new Promise<void>((resolve, reject) =>
    channel.subscribe((s, err) => {
      statuses.push(s);
      if (s === "SUBSCRIBED") resolve();
      if (s === "CHANNEL_ERROR") reject(err);
    }),
  );
  return { statuses, system, subscribed };
}
