import postgres from "postgres";
import { type FakeLivekit, startFakeLivekit } from "../support/fakes.ts";
import { localOnly, startTestStack, type TestStack, type TestStackOptions } from "../support/stack.ts";
import { accessToken, insertUser, type User } from "../support/users.ts";

/** A user made in SQL with a valid HS256 access token, as `supabase start` issues. */
export interface TestUser extends User {
  token: string;
}

/** The local stack with functions, plus a superuser connection to its database for arranging and checking rows. */
export interface FunctionsStack {
  stack: TestStack;
  sql: postgres.Sql;
  /** Calls `/functions/v1/<path>` through the gateway, as supabase-js would (apikey + bearer). */
  call(
    path: string,
    init?: { method?: string; token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  /** A new user (auth.users row → profile by trigger) with an HS256 access token, as `supabase start` issues. */
  user(name?: string, appMetadata?: Record<string, unknown>): Promise<TestUser>;
  stop(): Promise<void>;
}

/** Starts the local stack (real Deno, real Postgres) for a functions test file. */
export async function startFunctionsStack(options: TestStackOptions = {}): Promise<FunctionsStack> {
  const stack = await startTestStack(options);
  if (!stack.dbUrl || !stack.jwtSecret)
    throw new Error("functions tests need the local stack (database URL and JWT secret)");
  const sql = postgres(stack.dbUrl, { max: 4, onnotice: () => {} });
  const jwtSecret = stack.jwtSecret;
  return {
    stack,
    sql,
    async call(path, init = {}) {
      const headers: Record<string, string> = { apikey: stack.anonKey, ...init.headers };
      const token = init.token === undefined ? stack.anonKey : init.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (init.body !== undefined) {
        body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
        headers["content-type"] ??= "application/json";
      }
      return fetch(`${stack.url}/functions/v1/${path}`, { method: init.method ?? "GET", headers, body });
    },
    async user(name = "User", appMetadata = {}) {
      const user = await insertUser(sql, { name, appMetadata });
      return { ...user, token: await accessToken(jwtSecret, user, { appMetadata }) };
    },
    async stop() {
      await sql.end();
      await stack.stop();
    },
  };
}

/** The local stack with functions whose LiveKit is the fake below; `stop` also closes the fake. */
export interface LivekitFunctionsStack extends FunctionsStack {
  livekit: FakeLivekit;
}

/**
 * Starts a fake LiveKit (see `startFakeLivekit`) and the functions stack pointed at it. An external
 * stack keeps its own LiveKit: tests that check the fake's keys or calls use `skipIf(EXTERNAL_STACK)`.
 */
export async function startFunctionsStackWithFakeLivekit(
  options: Omit<TestStackOptions, "functionsEnv"> = {},
): Promise<LivekitFunctionsStack> {
  const livekit = await startFakeLivekit();
  let f: FunctionsStack;
  try {
    f = await startFunctionsStack(
      localOnly({
        ...options,
        functionsEnv: {
          LIVEKIT_URL: livekit.url,
          LIVEKIT_API_KEY: livekit.apiKey,
          LIVEKIT_API_SECRET: livekit.apiSecret,
        },
      }),
    );
  } catch (error) {
    await livekit.close();
    throw error;
  }
  return {
    ...f,
    livekit,
    async stop() {
      await f.stop();
      await livekit.close();
    },
  };
}

/** The JSON body of a response, typed loosely for assertions. */
export async function body<T = Record<string, unknown>>(res: Response): Promise<T> {
  const text = await res.text();
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

/** Counts rows of every Roomkit table (to show that a refused request wrote nothing). */
export async function rowCounts(
  sql: postgres.Sql,
  scope: { users?: string[]; rooms?: string[] } = {},
): Promise<Record<string, number>> {
  // Scoped to the test's own users and rooms when given, so writes by other test files sharing an
  // external stack's database do not show up; unscoped (the whole database) otherwise.
  const scoped = scope.users !== undefined || scope.rooms !== undefined;
  const users = scope.users ?? [];
  const rooms = scope.rooms ?? [];
  const [row] = await sql<Record<string, number>[]>`
    with
      r as (select * from roomkit.rooms where not ${scoped} or id = any(${rooms}::uuid[]) or created_by = any(${users}::uuid[])),
      m as (select * from roomkit.room_members where not ${scoped} or room_id = any(${rooms}::uuid[]) or user_id = any(${users}::uuid[])),
      i as (select * from roomkit.room_invites where not ${scoped} or room_id = any(${rooms}::uuid[])
              or inviter_id = any(${users}::uuid[]) or invitee_id = any(${users}::uuid[])),
      msg as (select * from roomkit.room_messages where not ${scoped} or room_id = any(${rooms}::uuid[])
              or sender_id = any(${users}::uuid[]) or (metadata ->> 'user_id')::uuid = any(${users}::uuid[]))
    select (select count(*)::int from r) as rooms,
           (select count(*)::int from m) as members,
           (select count(*)::int from m where left_at is null) as active_members,
           (select count(*)::int from m where mic_enabled) as mics_on,
           (select count(*)::int from i) as invites,
           (select count(*)::int from i where status = 'pending') as pending_invites,
           (select count(*)::int from msg) as messages,
           (select count(*)::int from roomkit_private.livekit_events) as livekit_events,
           (select count(*)::int from m where voice_connected) as voice_connected`;
  return row!;
}
