import { randomUUID } from "node:crypto";
import type { SupabaseClient } from "@supabase/supabase-js";
import type postgres from "postgres";
import type { Database } from "../../functions/_shared/database.types.ts";
import { signJwt } from "../../packages/stack/src/jwt.ts";
import type { StackKeys } from "../../packages/stack/src/keys.ts";
import { createRoomkitClient, type Result, type RoomkitClient } from "../../src/client/index.ts";
import type { TestStack } from "./stack.ts";

/**
 * Test users, made one of two ways: straight into `auth.users` in SQL (fast; the app's trigger
 * makes the profile), with access tokens signed here as Auth signs them; or signed up through the
 * stack's Auth as a frontend does (a session, a supabase-js client and a Roomkit client).
 */

/** A user made in SQL; also an `Actor` for `as`/`rpc` (see acting.ts). */
export interface User {
  kind: "user";
  id: string;
  email: string;
  name: string;
}

/** A unique address on the reserved `.test` domain, `<prefix>-<8 hex>@example.test`. */
export function uniqueEmail(prefix = "user"): string {
  const slug = prefix.toLowerCase().replace(/[^a-z0-9]+/g, "") || "user";
  return `${slug}-${randomUUID().slice(0, 8)}@example.test`;
}

function userRow(options: { name?: string; email?: string; appMetadata?: Record<string, unknown> }) {
  const id = randomUUID();
  const name = options.name ?? `User ${id.slice(0, 4)}`;
  const email = options.email ?? uniqueEmail(options.name ?? "u");
  const row = {
    instance_id: "00000000-0000-0000-0000-000000000000",
    id,
    aud: "authenticated",
    role: "authenticated",
    email,
    encrypted_password: "",
    email_confirmed_at: new Date().toISOString(),
    // Objects: postgres.js serializes them for the jsonb columns (a string would stay a JSON string).
    raw_app_meta_data: { provider: "email", providers: ["email"], ...options.appMetadata },
    raw_user_meta_data: { display_name: name },
    // Auth scans these as strings: '' as GoTrue writes them, never NULL.
    confirmation_token: "",
    recovery_token: "",
    email_change_token_new: "",
    email_change: "",
  };
  return { user: { kind: "user" as const, id, email, name }, row };
}

/**
 * Makes users the way Supabase Auth does, in one statement: rows in `auth.users` (the
 * `on_auth_user_created` trigger then creates each profile). `name` becomes the display name.
 *
 * @example
 * const [ada, bob] = await insertUsers(db.sql, [{ name: "Ada" }, { name: "Bob" }]);
 */
export async function insertUsers(
  sql: postgres.Sql,
  specs: { name?: string; email?: string; appMetadata?: Record<string, unknown> }[],
): Promise<User[]> {
  const made = specs.map(userRow);
  if (made.length > 0)
    await sql`insert into auth.users ${sql(made.map((m) => m.row) as unknown as postgres.Row[])}`;
  return made.map((m) => m.user);
}

/**
 * One user made in SQL (see `insertUsers`).
 *
 * @example
 * const ada = await insertUser(db.sql, { name: "Ada" });
 */
export async function insertUser(
  sql: postgres.Sql,
  options: { name?: string; email?: string; appMetadata?: Record<string, unknown> } = {},
): Promise<User> {
  const [user] = await insertUsers(sql, [options]);
  return user!;
}

/** Opens an Auth session for `user` (an `auth.sessions` row, which policies check); returns its id. */
export async function startAuthSession(sql: postgres.Sql, user: Pick<User, "id">): Promise<string> {
  const sessionId = randomUUID();
  await sql`insert into auth.sessions (id, user_id, created_at, updated_at) values (${sessionId}, ${user.id}, now(), now())`;
  return sessionId;
}

/** Signs `claims` with the stack's HS256 secret, issued now and valid `ttlSeconds`. */
export function signToken(
  jwtSecret: string,
  claims: Record<string, unknown>,
  ttlSeconds = 3600,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signJwt({ ...claims, iat: now, exp: now + ttlSeconds }, { jwtSecret } as StackKeys, "HS256");
}

/**
 * An access token for `user` as Auth issues it (`sub`, `role`, `aud`, `email`, `app_metadata`,
 * and `session_id` when a session is given).
 */
export function accessToken(
  jwtSecret: string,
  user: Pick<User, "id" | "email">,
  options: { ttlSeconds?: number; sessionId?: string; appMetadata?: Record<string, unknown> } = {},
): Promise<string> {
  return signToken(
    jwtSecret,
    {
      sub: user.id,
      role: "authenticated",
      aud: "authenticated",
      email: user.email,
      app_metadata: { provider: "email", ...options.appMetadata },
      ...(options.sessionId ? { session_id: options.sessionId } : {}),
    },
    options.ttlSeconds,
  );
}

/** A person using the app: signed up through Auth, with their supabase-js and Roomkit clients. */
export interface Person {
  id: string;
  name: string;
  email: string;
  password: string;
  /** The access token Auth issued at sign-up. */
  token: string;
  supabase: SupabaseClient<Database, "roomkit">;
  roomkit: RoomkitClient;
}

/**
 * Signs a new user up through the stack's Auth, as a frontend would (email + password; local Auth
 * confirms at once, so a session comes back), with `name` as their display name.
 *
 * @example
 * const ada = await signUp(stack, "Ada");
 * must(await ada.roomkit.rooms.create({ name: "Book club" }));
 */
export async function signUp(stack: TestStack, name = "User"): Promise<Person> {
  const supabase = stack.client();
  const email = uniqueEmail(name);
  const password = `pw-${randomUUID()}`;
  const { data, error } = await supabase.auth.signUp({
    email,
    password,
    options: { data: { display_name: name } },
  });
  if (error || !data.session || !data.user) throw error ?? new Error(`sign-up of ${name} gave no session`);
  return {
    id: data.user.id,
    name,
    email,
    password,
    token: data.session.access_token,
    supabase,
    roomkit: createRoomkitClient(supabase),
  };
}

/** Several people signed up at once, in the order named. */
export async function signUpAll<N extends string[]>(
  stack: TestStack,
  ...names: N
): Promise<{ [K in keyof N]: Person }> {
  return (await Promise.all(names.map((n) => signUp(stack, n)))) as { [K in keyof N]: Person };
}

/** The same person signed in again on a new client (another tab or device). */
export async function signIn(
  stack: TestStack,
  person: Pick<Person, "name" | "email" | "password">,
): Promise<Person> {
  const supabase = stack.client();
  const { data, error } = await supabase.auth.signInWithPassword({
    email: person.email,
    password: person.password,
  });
  if (error || !data.session) throw error ?? new Error(`sign-in of ${person.name} gave no session`);
  return {
    ...person,
    id: data.user.id,
    token: data.session.access_token,
    supabase,
    roomkit: createRoomkitClient(supabase),
  };
}

/** Unwraps a Roomkit result, failing the test with the error's code when there is one. */
export function must<T>(result: Result<T>): T {
  if (result.error) throw new Error(`unexpected ${result.error.code}: ${result.error.message}`);
  return result.data;
}
