import { randomUUID } from "node:crypto";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { WebSocket } from "ws";
import type { Database } from "../../functions/_shared/database.types.ts";
import type { TestStack } from "../support/stack.ts";

export interface SignedInUser {
  id: string;
  email: string;
  token: string;
  client: SupabaseClient<Database>;
}

/** supabase-js options for tests: no stored session, and a WebSocket for realtime-js on Node 20. */
export const clientOptions = {
  db: { schema: "roomkit" as const },
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
};

/**
 * A signed-in user with a supabase-js client, made the way an app makes one: `auth.signUp`
 * (email confirmations are off locally and in CI projects, so it returns a session).
 */
export async function signUpUser(stack: TestStack, name = "User"): Promise<SignedInUser> {
  const email = `rest-${randomUUID().slice(0, 8)}@example.test`;
  const client = createClient<Database>(stack.url, stack.anonKey, clientOptions);
  const { data, error } = await client.auth.signUp({
    email,
    password: `pw-${randomUUID()}`,
    options: { data: { display_name: name } },
  });
  if (error || !data.session || !data.user) throw error ?? new Error("signUp gave no session");
  return { id: data.user.id, email, token: data.session.access_token, client };
}

/** Raw fetch against `/rest/v1` with the anon key (for headers supabase-js hides). */
export async function restFetch(
  stack: Pick<TestStack, "url" | "anonKey">,
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
