import { randomUUID } from "node:crypto";
import type { RealtimeChannel, SupabaseClient } from "@supabase/supabase-js";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { WebSocket } from "ws";
import { signJwt } from "../../src/stack/jwt.ts";
import type { StackKeys } from "../../src/stack/keys.ts";
import type { TestStack } from "../support/stack.ts";

/**
 * Helpers for the realtime suites: users made directly in auth.users (with their profile, by the
 * app's trigger) and signed tokens, so these tests need only the realtime surface, and
 * supabase-js clients whose Realtime uses the `ws` package (Node 20 has no global WebSocket).
 */

export interface TestUser {
  id: string;
  /** A fresh access token for this user, valid `ttlSeconds` (default 1 h). */
  token(ttlSeconds?: number): Promise<string>;
}

export function superuser(stack: TestStack): postgres.Sql {
  if (!stack.dbUrl) throw new Error("realtime tests need the database URL");
  return postgres(stack.dbUrl, { max: 3, onnotice: () => {} });
}

export async function createUser(stack: TestStack, sql: postgres.Sql): Promise<TestUser> {
  const id = randomUUID();
  await sql`insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
            values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', 'authenticated', ${`${id}@example.com`},
                    '{"provider":"email","providers":["email"]}', '{}', now(), now())`;
  const keys = { jwtSecret: stack.jwtSecret } as StackKeys;
  return {
    id,
    token: (ttlSeconds = 3600) => {
      const now = Math.floor(Date.now() / 1000);
      return signJwt(
        {
          sub: id,
          role: "authenticated",
          aud: "authenticated",
          iat: now,
          exp: now + ttlSeconds,
          session_id: randomUUID(),
        },
        keys,
      );
    },
  };
}

/** A private room owned by `owner`, with `members` as plain members. */
export async function createRoom(
  sql: postgres.Sql,
  owner: TestUser,
  members: TestUser[] = [],
): Promise<string> {
  const [room] = await sql<{ id: string }[]>`
    insert into public.rooms (kind, name, ai_mode, created_by) values ('private', 'Realtime test', 'off', ${owner.id})
    returning id`;
  if (!room) throw new Error("room not created");
  await sql`insert into public.room_members (room_id, user_id, role) values (${room.id}, ${owner.id}, 'owner')`;
  for (const m of members)
    await sql`insert into public.room_members (room_id, user_id, role) values (${room.id}, ${m.id}, 'member')`;
  return room.id;
}

/**
 * A supabase-js client whose Realtime authenticates with `token.current`. The token is fetched
 * before returning: a join sent before the `accessToken` callback resolved would carry only the
 * anon key (realtime-js reads `accessTokenValue` when `subscribe()` is called).
 */
export async function realtimeClient(
  stack: TestStack,
  token: { current: string | null },
): Promise<SupabaseClient> {
  const client = createClient(stack.url, stack.anonKey, {
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

/** Resolves once `predicate` holds, polling every 10 ms; rejects after `ms`. */
export async function until(predicate: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
