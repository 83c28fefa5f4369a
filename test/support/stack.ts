import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { WebSocket } from "ws";
import type { Database } from "../../functions/_shared/database.types.ts";
import { startStack } from "../../packages/stack/src/index.ts";
import { generateKeys } from "../../packages/stack/src/keys.ts";
import { createTestDatabase } from "./db.ts";
import { freePort } from "./global-setup.ts";
import { REPO_ROOT } from "./repo.ts";

/** A Supabase stack to test against: the local one, or a real one named by env vars. */
export interface TestStack {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  /** Database URL (superuser locally); present when known. */
  dbUrl: string | undefined;
  /** HS256 secret; present for the local stack or when SUPABASE_JWT_SECRET is set. */
  jwtSecret: string | undefined;
  /** The local stack's inbox (Mailpit's API), where Auth's mails go; undefined for an external stack. */
  inboxUrl: string | undefined;
  /** True for the local stack: tests of local-only knobs (restart realtime…) check it. */
  local: boolean;
  /** A supabase-js client with the anon key and no persisted session. */
  client(): SupabaseClient<Database, "roomkit">;
  /** A service-role client. */
  admin(): SupabaseClient<Database, "roomkit">;
  stop(): Promise<void>;
}

export type TestStackOptions = Omit<Parameters<typeof startStack>[0], "dbUrl" | "keys" | "port">;

const env = process.env;

/**
 * True when SUPABASE_URL, SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY name a stack to test
 * against (see `startTestStack`). Tests that need configuration only the local stack can be
 * given (fake AI provider or LiveKit, token TTL, signing algorithm, auth settings, restarting
 * realtime) use `describe.skipIf(EXTERNAL_STACK)` / `it.skipIf(EXTERNAL_STACK)`.
 */
export const EXTERNAL_STACK = Boolean(
  env.SUPABASE_URL && env.SUPABASE_ANON_KEY && env.SUPABASE_SERVICE_ROLE_KEY,
);

/** An external stack without SUPABASE_DB_URL: tests that read or arrange rows in SQL cannot run. */
export const EXTERNAL_WITHOUT_DB = EXTERNAL_STACK && !env.SUPABASE_DB_URL;

/** An external stack without SUPABASE_JWT_SECRET: tests that sign their own HS256 tokens cannot run. */
export const EXTERNAL_WITHOUT_JWT_SECRET = EXTERNAL_STACK && !env.SUPABASE_JWT_SECRET;

/** Options any stack honours (or that do not change what a test observes). */
const PORTABLE_OPTIONS: ReadonlySet<string> = new Set<keyof TestStackOptions>([
  "functions",
  "waitForFunctions",
  "log",
]);

/**
 * Options that configure the local stack only: returned as given locally, dropped (`{}`) against
 * an external stack. Use it only where every test that depends on them is guarded with
 * `skipIf(EXTERNAL_STACK)`; unguarded local-only options make `startTestStack` throw instead.
 *
 * @example
 * stack = await startTestStack({ functions: false, ...localOnly({ accessTokenTtlSeconds: 5 }) });
 */
export function localOnly<T extends TestStackOptions>(options: T): T | Record<string, never> {
  return EXTERNAL_STACK ? {} : options;
}

/** supabase-js options for tests: Roomkit's schema, no stored session, and a WebSocket for Node 20. */
export const clientOptions = {
  // Roomkit's tables and RPCs live in the `roomkit` schema; raw queries in tests go there by default.
  db: { schema: "roomkit" as const },
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  // Node 20 has no global WebSocket; realtime-js refuses to construct without a transport.
  realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
};

/**
 * With SUPABASE_URL, SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY set, targets that stack
 * (e.g. `supabase start` elsewhere, or a project); otherwise starts the local stack on a free
 * port over a throwaway copy of the template database. Against an external stack every test file
 * shares its database, and options other than `functions`, `waitForFunctions` and `log` cannot be
 * applied: passing them throws (see `localOnly` and `EXTERNAL_STACK`).
 *
 * @example
 * const stack = await startTestStack();
 * afterAll(() => stack.stop());
 */
export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  if (EXTERNAL_STACK && env.SUPABASE_URL && env.SUPABASE_ANON_KEY && env.SUPABASE_SERVICE_ROLE_KEY) {
    const localOptions = Object.entries(options)
      .filter(([key, value]) => value !== undefined && !PORTABLE_OPTIONS.has(key))
      .map(([key]) => key);
    if (localOptions.length > 0)
      throw new Error(
        `startTestStack: ${localOptions.join(", ")} can only configure the local stack, but SUPABASE_URL names an ` +
          "external one. Guard the tests that need this configuration with skipIf(EXTERNAL_STACK) and pass the " +
          "options through localOnly(...).",
      );
    const { SUPABASE_URL: url, SUPABASE_ANON_KEY: anonKey, SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey } = env;
    return {
      url,
      anonKey,
      serviceRoleKey,
      dbUrl: env.SUPABASE_DB_URL,
      jwtSecret: env.SUPABASE_JWT_SECRET,
      inboxUrl: undefined,
      local: false,
      client: () => createClient<Database>(url, anonKey, clientOptions),
      admin: () => createClient<Database>(url, serviceRoleKey, clientOptions),
      stop: async () => {},
    };
  }
  const db = await createTestDatabase();
  const keys = await generateKeys();
  const stack = await startStack({
    realtimeErrorBackoffMs: 0,
    // Hashing at GoTrue's cost 10 was a tenth of the suites' CPU time; no test depends on the cost.
    passwordHashCost: 4,
    // The repository's config.toml leaves anonymous sign-ins off (the CLI default); the suites use them.
    anonymousSignIns: true,
    projectDir: REPO_ROOT,
    log: env.ROOMKIT_TEST_LOG ? (s, l) => console.log(`[${s}] ${l}`) : () => {},
    ...options,
    dbUrl: db.url,
    keys,
    port: await freePort(),
    host: "127.0.0.1",
  });
  return {
    url: stack.apiUrl,
    anonKey: keys.anonKey,
    serviceRoleKey: keys.serviceRoleKey,
    dbUrl: db.url,
    jwtSecret: keys.jwtSecret,
    inboxUrl: stack.inboxUrl,
    local: true,
    client: () => createClient<Database>(stack.apiUrl, keys.anonKey, clientOptions),
    admin: () => createClient<Database>(stack.apiUrl, keys.serviceRoleKey, clientOptions),
    async stop() {
      await stack.close();
      await db.drop();
    },
  };
}

/** LiveKit credentials the stack's functions sign voice tokens with (no LiveKit server runs). */
export const LIVEKIT = {
  LIVEKIT_URL: "ws://127.0.0.1:7880",
  LIVEKIT_API_KEY: "e2e-key",
  LIVEKIT_API_SECRET: "e2e-secret-that-is-long-enough-for-hs256",
};

/**
 * The local stack with LiveKit credentials for the functions, or the real one from env (which
 * keeps its own LiveKit configuration: tests that check voice tokens against `LIVEKIT` are
 * guarded with `skipIf(EXTERNAL_STACK)`). Local-only `options` must come through `localOnly`.
 */
export function startE2EStack(options: TestStackOptions = {}): Promise<TestStack> {
  return startTestStack({
    ...options,
    ...localOnly({ functionsEnv: { ...LIVEKIT, ...options.functionsEnv } }),
  });
}
