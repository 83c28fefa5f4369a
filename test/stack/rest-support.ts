import type { TestStack } from "../support/stack.ts";

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
