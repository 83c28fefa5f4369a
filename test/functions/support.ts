import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { signJwt } from "../../src/stack/jwt.ts";
import type { StackKeys } from "../../src/stack/keys.ts";
import { startTestStack, type TestStack, type TestStackOptions } from "../support/stack.ts";

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
        insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
        values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', 'authenticated', ${email},
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

/** The JSON body of a response, typed loosely for assertions. */
export async function body<T = Record<string, unknown>>(res: Response): Promise<T> {
  const text = await res.text();
  return (text === "" ? undefined : JSON.parse(text)) as T;
}
