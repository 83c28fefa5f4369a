import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { signJwt } from "../../packages/stack/src/jwt.ts";
import type { StackKeys } from "../../packages/stack/src/keys.ts";
import { localOnly, startTestStack, type TestStack, type TestStackOptions } from "../support/stack.ts";

/** A signed-in test user: id, display name and a valid access token. */
export interface TestUser {
  id: string;
  name: string;
  email: string;
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
  const keys = { jwtSecret: stack.jwtSecret } as StackKeys;
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
      const id = randomUUID();
      const email = `${name.toLowerCase().replace(/[^a-z0-9]/g, "")}-${id.slice(0, 8)}@example.com`;
      await sql`
        insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at, raw_app_meta_data,
                                raw_user_meta_data, created_at, updated_at)
        values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', 'authenticated', ${email}, now(),
                ${sql.json({ provider: "email", ...appMetadata } as postgres.JSONValue)}, ${sql.json({ display_name: name })}, now(), now())`;
      const now = Math.floor(Date.now() / 1000);
      const token = await signJwt(
        {
          sub: id,
          role: "authenticated",
          aud: "authenticated",
          email,
          app_metadata: { provider: "email", ...appMetadata },
          iat: now,
          exp: now + 3600,
        },
        keys,
        "HS256",
      );
      return { id, name, email, token };
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

/** Runs SQL as a user (role authenticated + their claims), e.g. to arrange rooms through the SQL functions. */
export async function asUserSql<T>(
  sql: postgres.Sql,
  userId: string,
  work: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  return (await sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ sub: userId, role: "authenticated" })}, true)`;
    return work(tx);
  })) as T;
}

/** A private room owned by `owner` (through create_private_room). */
export async function privateRoom(sql: postgres.Sql, owner: TestUser, name = "Room"): Promise<string> {
  const [room] = await asUserSql(
    sql,
    owner.id,
    (tx) => tx<{ id: string }[]>`select id from roomkit.create_private_room(${name})`,
  );
  return room!.id;
}

/** A fresh coworking room (rooms are seeded, but each test makes its own). */
export async function coworkingRoom(
  sql: postgres.Sql,
  capacity = 10,
  status: "active" | "inactive" = "active",
): Promise<string> {
  const [room] = await sql<{ id: string }[]>`
    insert into roomkit.rooms (kind, name, capacity, status) values ('coworking', ${`Room ${randomUUID().slice(0, 6)}`}, ${capacity}, ${status})
    returning id`;
  return room!.id;
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

/** A request the fake LiveKit server received. */
export interface LivekitCall {
  method: string;
  body: Record<string, unknown>;
  authorization: string | undefined;
}

export interface FakeLivekit {
  url: string;
  apiKey: string;
  apiSecret: string;
  calls: LivekitCall[];
  failWith: { status: number; code: string } | undefined;
  close(): Promise<void>;
}

/**
 * A FAKE LiveKit server: only its Twirp HTTP edge (`POST /twirp/livekit.RoomService/<Method>`), on a
 * free loopback port. It records calls and answers `{}` (or a Twirp error when told to fail).
 */
export async function startFakeLivekit(): Promise<FakeLivekit> {
  const { createServer } = await import("node:http");
  const state = {
    url: "",
    apiKey: `APIfake${randomUUID().slice(0, 6)}`,
    apiSecret: randomUUID() + randomUUID(),
    calls: [] as LivekitCall[],
    failWith: undefined as { status: number; code: string } | undefined,
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const m = /^\/twirp\/livekit\.RoomService\/(\w+)$/.exec(req.url ?? "");
      const text = Buffer.concat(chunks).toString("utf8");
      if (m)
        state.calls.push({
          method: m[1]!,
          body: text ? JSON.parse(text) : {},
          authorization: req.headers.authorization,
        });
      const fail = state.failWith;
      if (!m || fail) {
        res.writeHead(fail?.status ?? 404, { "content-type": "application/json" });
        res.end(JSON.stringify({ code: fail?.code ?? "bad_route", msg: "fake livekit" }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as import("node:net").AddressInfo;
  state.url = `http://127.0.0.1:${address.port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
