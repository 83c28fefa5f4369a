/**
 * Joining realtime channels through supabase-js and reading why the server refused or closed one.
 */
import type { RealtimeChannel, RealtimeChannelOptions } from "@supabase/supabase-js";
import { RoomkitRealtimeError } from "./errors.ts";
import type { Db, Result } from "./transport.ts";
import { fail, ok } from "./transport.ts";

/**
 * Join refusals start with `Unauthorized:` (supabase/realtime realtime_channel.ex join/3);
 * expired tokens with `InvalidJWTToken: Token has expired` (reference/realtime.md §1.5).
 */
const UNAUTHORIZED_REASON = /^Unauthorized:|permission/i;
const EXPIRED_REASON = /Token has expired/i;
/** `system` error sent before `phx_close` when a token refresh revokes read (realtime.md §7). */
export const NO_LONGER_PERMITTED = /You no longer have permission/i;

/** A join or server-close reason turned into a Roomkit code. */
export function realtimeErrorFor(reason: string, cause?: unknown): RoomkitRealtimeError {
  if (EXPIRED_REASON.test(reason)) return new RoomkitRealtimeError("token_expired", reason, { cause });
  if (UNAUTHORIZED_REASON.test(reason)) return new RoomkitRealtimeError("unauthorized", reason, { cause });
  return new RoomkitRealtimeError("channel_error", reason || "channel error", { cause });
}

/** What to do with a channel before it joins (add `on(…)` bindings). */
export type Bind = (channel: RealtimeChannel) => void;

/** Subscribe status callbacks after the first outcome (reconnects, errors, server close). */
export interface ChannelLifecycle {
  onStatus?(
    status: "SUBSCRIBED" | "CHANNEL_ERROR" | "TIMED_OUT" | "CLOSED",
    error: Error | undefined,
    channel: RealtimeChannel,
  ): void;
}

/**
 * Creates a channel on `topic`, binds listeners, subscribes, and resolves on the first outcome:
 * the channel once joined, or the reason it was refused (then it is removed, so realtime-js stops
 * retrying). Later status changes go to `lifecycle.onStatus`.
 *
 * @example
 * const { data: channel } = await joinChannel(db, "user:42", { config: { private: true } }, (c) =>
 *   c.on("broadcast", { event: "invite.insert" }, console.log));
 */
export function joinChannel(
  db: Db,
  topic: string,
  options: RealtimeChannelOptions,
  bind: Bind,
  lifecycle: ChannelLifecycle = {},
): Promise<Result<RealtimeChannel>> {
  const channel = db.channel(topic, options);
  bind(channel);
  return new Promise((resolve) => {
    let settled = false;
    channel.subscribe((status, error) => {
      if (settled) {
        lifecycle.onStatus?.(status as "SUBSCRIBED", error, channel);
        return;
      }
      if (status === "SUBSCRIBED") {
        settled = true;
        resolve(ok(channel));
        return;
      }
      if (status === "CLOSED") return;
      settled = true;
      void db.removeChannel(channel);
      if (status === "TIMED_OUT") {
        resolve(fail(new RoomkitRealtimeError("timeout", `Joining ${topic} timed out`)));
        return;
      }
      const reason = reasonOf(error);
      resolve(fail(realtimeErrorFor(reason, error)));
    });
  });
}

/** The server's reason string inside a realtime-js subscribe error (`cause.reason` or the message). */
export function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error ?? "");
  const cause = error.cause as { reason?: unknown } | undefined;
  if (cause && typeof cause.reason === "string") return cause.reason;
  return error.message;
}

/** The `record` of a `realtime.broadcast_changes` payload (`{operation, record, old_record, …}`). */
export function recordOf<T>(payload: unknown): T | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const record = (payload as { record?: unknown }).record;
  return record && typeof record === "object" ? (record as T) : undefined;
}

/** The `old_record` of a `realtime.broadcast_changes` payload (DELETE). */
export function oldRecordOf<T>(payload: unknown): T | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const record = (payload as { old_record?: unknown }).old_record;
  return record && typeof record === "object" ? (record as T) : undefined;
}

/**
 * A live subscription; `unsubscribe()` leaves the channel.
 *
 * @example
 * const { data: sub } = await roomkit.invites.onInvite(console.log);
 * await sub?.unsubscribe();
 */
export interface Subscription {
  unsubscribe(): Promise<void>;
}

/** A subscription that removes `channel` from the client when unsubscribed. */
export function subscriptionOf(db: Db, channel: RealtimeChannel): Subscription {
  return {
    async unsubscribe() {
      await db.removeChannel(channel);
    },
  };
}
