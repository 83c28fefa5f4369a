/**
 * `notify`: invites, @mentions and AI replies reach people who are not looking, by Web Push and
 * by mail (see `deliver.ts`).
 *
 * - `POST /notify` (service role only; pg_cron + pg_net every 10 s in production, the local stack's
 *   job on a timer and on NOTIFY `roomkit_notify`) → 200 `{sent, skipped, failed}`
 * - `GET /notify/config` (a signed-in user) → 200 `{vapid_public_key}`: the key a browser subscribes
 *   with (`null` when push is not configured)
 */
import { requireServiceRole, requireUser } from "../_shared/auth.ts";
import { createHandler, json, route } from "../_shared/http.ts";
import { vapidPublicKey } from "../_shared/push.ts";
import { deliverDue } from "./deliver.ts";

const deliver = route({
  method: "POST",
  path: "/",
  auth: requireServiceRole,
  async run() {
    return json(200, await deliverDue());
  },
});

const config = route({
  method: "GET",
  path: "/config",
  auth: requireUser,
  async run() {
    return json(200, { vapid_public_key: vapidPublicKey() ?? null });
  },
});

export const handler = createHandler("notify", [deliver, config]);

if (import.meta.main) Deno.serve(handler);
