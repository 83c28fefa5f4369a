/**
 * Pays what the database owes LiveKit: when a coworking membership ends (leave, removal, expiry,
 * the room made inactive) or a coworking room is deleted, a trigger records a voice eviction in
 * `roomkit_private.voice_evictions` in the same transaction (voice migration). Here each one is
 * claimed (never twice at once), sent to LiveKit (`RemoveParticipant` with `revokeTokenTs`, or
 * `DeleteRoom`), and marked done, or retried later with backoff when LiveKit cannot be reached.
 */
import { asService } from "./db.ts";
import { closeVoiceRoom, disconnectFromVoice, voiceConfigured } from "./livekit.ts";

interface Eviction {
  id: string;
  room_id: string;
  user_id: string | null;
}

/** Evictions paid per call, at most; the rest wait for the next call. */
const BATCH = 100;

/**
 * Pays the due evictions (all rooms, or only `onlyRoom`'s). Without LiveKit settings there is no
 * voice, so they are settled as they are.
 *
 * @example
 * const { evicted, failed } = await payVoiceEvictions(roomId);
 */
export async function payVoiceEvictions(onlyRoom?: string): Promise<{ evicted: number; failed: number }> {
  const claimed = await asService(
    (tx) =>
      tx<
        Eviction[]
      >`select id::text, room_id, user_id from roomkit_private.claim_voice_evictions(${BATCH}, ${onlyRoom ?? null})`,
  );
  const configured = voiceConfigured();
  let evicted = 0;
  let failed = 0;
  await Promise.all(
    claimed.map(async (e) => {
      const ok =
        !configured ||
        (e.user_id ? await disconnectFromVoice(e.room_id, e.user_id) : await closeVoiceRoom(e.room_id));
      if (ok) evicted++;
      else failed++;
      await asService(
        (tx) =>
          tx`select roomkit_private.complete_voice_eviction(${e.id}::bigint, ${ok ? null : "LiveKit unreachable"})`,
      );
    }),
  );
  return { evicted, failed };
}

/** How long a caller waits for an eviction another instance (the scheduled sweep) is already paying. */
const SETTLE_WAIT_MS = 2000;

/**
 * Pays `userId`'s eviction from `roomId` now, for a function that has just ended their membership:
 * true once LiveKit confirmed it. The scheduled sweep may have claimed it first (it is woken by the
 * same commit); then this waits up to SETTLE_WAIT_MS for that sweep to finish it.
 *
 * @example
 * const disconnected = await settleVoiceEviction(roomId, userId);
 */
export async function settleVoiceEviction(roomId: string, userId: string): Promise<boolean> {
  await payVoiceEvictions(roomId);
  const deadline = Date.now() + SETTLE_WAIT_MS;
  for (;;) {
    const [row] = await asService(
      (tx) => tx<{ done: boolean }[]>`
        select done_at is not null as done from roomkit_private.voice_evictions
        where room_id = ${roomId} and user_id = ${userId} order by id desc limit 1`,
    );
    if (!row || row.done) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
