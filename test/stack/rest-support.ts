import { randomUUID } from "node:crypto";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { WebSocket } from "ws";
import type { Database } from "../../src/database.types.ts";
import { signJwt } from "../../src/stack/jwt.ts";
import type { StackKeys } from "../../src/stack/keys.ts";
import type { TestStack } from "../support/stack.ts";

export interface SignedInUser {
  id: string;
  email: string;
  token: string;
  client: SupabaseClient<Database>;
}

const clientOptions = {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
};

/**
 * A signed-in user with a supabase-js client. Against a real stack: `auth.signUp` (email
 * confirmations off). Locally: a row in auth.users (the profile trigger fires) and an access token
 * minted with the stack's secret, with the claims Supabase Auth puts in one.
 */
export async function signUpUser(stack: TestStack, name = "User"): Promise<SignedInUser> {
  const email = `rest-${randomUUID().slice(0, 8)}@example.test`;
  if (!stack.local || !stack.dbUrl || !stack.jwtSecret) {
    const client = createClient<Database>(stack.url, stack.anonKey, clientOptions);
    const { data, error } = await client.auth.signUp({
      email,
      password: `pw-${randomUUID()}`,
      options: { data: { display_name: name } },
    });
    if (error || !data.session || !data.user) throw error ?? new Error("signUp gave no session");
    return { id: data.user.id, email, token: data.session.access_token, client };
  }
  const id = randomUUID();
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`
      insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
      values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', 'authenticated', ${email}, '',
        now(), ${sql.json({ provider: "email", providers: ["email"] })}, ${sql.json({ display_name: name })},
        now(), now())`;
  } finally {
    await sql.end();
  }
  const now = Math.floor(Date.now() / 1000);
  const token = await signJwt(
    {
      sub: id,
      role: "authenticated",
      aud: "authenticated",
      email,
      iat: now,
      exp: now + 3600,
      session_id: randomUUID(),
      aal: "aal1",
      is_anonymous: false,
    },
    { jwtSecret: stack.jwtSecret } as StackKeys,
  );
  return { id, email, token, client: clientWithToken(stack, token) };
}

/** A supabase-js client that sends `token` as its access token. */
export function clientWithToken(stack: TestStack, token: string): SupabaseClient<Database> {
  return createClient<Database>(stack.url, stack.anonKey, {
    ...clientOptions,
    accessToken: async () => token,
  });
}

/** Raw fetch against `/rest/v1` with the anon key (for headers supabase-js hides). */
export async function restFetch(
  stack: TestStack,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; token?: string } = {},
): Promise<Response> {
  return fetch(`${stack.url}/rest/v1${path}`, {
    method: init.method ?? "GET",
    headers: {
      apikey: stack.anonKey,
      Authorization: `Bearer ${init.token ?? stack.anonKey}`,
      ...(init.body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
}
