import { randomUUID } from "node:crypto";
import type { SupabaseClient } from "@supabase/supabase-js";
import { expect } from "vitest";
import type { Database } from "../../functions/_shared/database.types.ts";
import { createRoomkitClient, type Result, type RoomkitClient } from "../../src/client/index.ts";
import { SESSION_EVENTS } from "../../src/client/room-core.ts";
import type { RoomSession, RoomSessionEvents } from "../../src/client/session.ts";
import { localOnly, startTestStack, type TestStack, type TestStackOptions } from "../support/stack.ts";

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

/** A person using the app: their own supabase-js client (signed up through Auth) and Roomkit client. */
export interface Person {
  id: string;
  name: string;
  email: string;
  supabase: SupabaseClient<Database, "roomkit">;
  roomkit: RoomkitClient;
}

/**
 * Signs a new user up through the stack's Auth, as a frontend would (email + password; local Auth
 * confirms at once), with a display name for their profile.
 */
export async function signUp(stack: TestStack, name: string): Promise<Person> {
  const supabase = stack.client();
  const email = `${name.toLowerCase()}-${randomUUID().slice(0, 8)}@example.test`;
  const { data, error } = await supabase.auth.signUp({
    email,
    password: `pw-${randomUUID()}`,
    options: { data: { display_name: name } },
  });
  expect(error).toBeNull();
  expect(data.session).not.toBeNull();
  return { id: data.user!.id, name, email, supabase, roomkit: createRoomkitClient(supabase) };
}

/**
 * A private room of `owner` with `guests` as members (each invited and accepting), AI off unless
 * asked. Returns the room id.
 */
export async function roomWith(
  owner: Person,
  guests: Person[],
  options: { name?: string; ai_mode?: "off" | "mention" | "always" } = {},
): Promise<string> {
  const room = must(
    await owner.roomkit.rooms.create({ name: options.name ?? "Room", ai_mode: options.ai_mode ?? "off" }),
  );
  for (const guest of guests) {
    const invite = must(await owner.roomkit.invites.send(room.id, { invitee_id: guest.id }));
    must(await guest.roomkit.invites.accept(invite.id));
  }
  return room.id;
}

/**
 * The next `event` of `session` that satisfies `match`, or a failure after `timeoutMs`. Use it for
 * a sentinel: something that must arrive, after which the absence of something else is checked.
 */
export function nextEvent<K extends keyof RoomSessionEvents>(
  session: RoomSession,
  event: K,
  match: (arg: RoomSessionEvents[K][0]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<RoomSessionEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no ${String(event)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = session.on(
      event as "message",
      ((arg: RoomSessionEvents[K][0]) => {
        if (!match(arg)) return;
        clearTimeout(timer);
        stop();
        resolve(arg);
      }) as never,
    );
  });
}

/** Polls `check` until it returns a truthy value (or throws its last assertion after `timeoutMs`). */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Everything a session emitted, by event, in order. */
export type Recorded = { [K in keyof RoomSessionEvents]: RoomSessionEvents[K][0][] };

/** Records every event of `session`. */
export function record(session: RoomSession): Recorded {
  const recorded = Object.fromEntries(SESSION_EVENTS.map((e) => [e, []])) as unknown as Recorded;
  for (const event of SESSION_EVENTS) {
    session.on(event as "message", (arg: unknown) => (recorded[event] as unknown[]).push(arg as never));
  }
  return recorded;
}

/** Unwraps a Roomkit result, failing the test with the error's code when there is one. */
export function must<T>(result: Result<T>): T {
  if (result.error) throw new Error(`unexpected ${result.error.code}: ${result.error.message}`);
  return result.data;
}

/** Several people signed up at once, in the order named. */
export async function signUpAll<N extends string[]>(
  stack: TestStack,
  ...names: N
): Promise<{ [K in keyof N]: Person }> {
  return (await Promise.all(names.map((n) => signUp(stack, n)))) as { [K in keyof N]: Person };
}
