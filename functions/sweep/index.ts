/**
 * `sweep` (service role only): the housekeeping that must run on a schedule, locally and on hosted
 * Supabase alike (pg_cron + pg_net every 10 s in production, see README; the local stack calls it
 * on a timer and whenever the database NOTIFYs `roomkit_sweep`).
 *
 * `POST /sweep` (optional body `{room_id}`: only that room's voice evictions) → 200
 * `{expired, evicted, failed}`:
 * 1. coworking participants with no heartbeat for `participant_timeout_seconds` and no voice
 *    connection leave (`roomkit_private.expire_participants`, the usual "left" system message);
 * 2. the voice evictions owed to LiveKit are paid (see `_shared/voice.ts`).
 */
import { z } from "zod";
import { requireServiceRole } from "../_shared/auth.ts";
import { asService } from "../_shared/db.ts";
import { createHandler, json, route } from "../_shared/http.ts";
import { id } from "../_shared/schemas.ts";
import { payVoiceEvictions } from "../_shared/voice.ts";

const sweepBody = z.object({ room_id: id.optional() }).optional();

const sweep = route({
  method: "POST",
  path: "/",
  body: sweepBody,
  auth: requireServiceRole,
  async run({ body }) {
    const expired = body?.room_id
      ? 0
      : ((await asService((tx) => tx<{ n: number }[]>`select roomkit_private.expire_participants() as n`))[0]
          ?.n ?? 0);
    const { evicted, failed } = await payVoiceEvictions(body?.room_id);
    return json(200, { expired, evicted, failed });
  },
});

export const handler = createHandler("sweep", [sweep]);

if (import.meta.main) Deno.serve(handler);
