/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and `aes128gcm` payload encryption (RFC 8291), through
 * the `web-push` library: it builds the request (the encrypted body and the headers), we send it
 * with `fetch`, never following redirects, and only to the push services in `ROOMKIT_PUSH_ORIGINS`.
 */
import webpush from "web-push";
import type { PushPayload } from "./contract.ts";
import { loadEnv, notifyEnv } from "./env.ts";

/** A browser's `PushSubscription.toJSON()`, as stored in `roomkit.push_subscriptions`. */
export interface PushTarget {
  endpoint: string;
  p256dh: string;
  auth: string;
}

/**
 * What became of one push: delivered to the push service; `gone` (404/410: the subscription
 * expired or was withdrawn, delete it); `refused` (the push service will never take this one, or
 * the endpoint is not an allowed push service); `failed` (try again later).
 */
export type PushResult = "sent" | "gone" | "refused" | "failed";

/** The browsers' push services (Chrome, Firefox, Safari, Edge). */
const DEFAULT_ORIGINS = [
  "https://fcm.googleapis.com",
  "https://android.googleapis.com",
  "https://updates.push.services.mozilla.com",
  "https://web.push.apple.com",
  "https://*.notify.windows.com",
];
/** How long a push service keeps a push for an offline browser (s). */
const TTL_SECONDS = 24 * 3600;
const TIMEOUT_MS = 10_000;

/** The VAPID public key browsers subscribe with, or undefined when push is not configured. */
export function vapidPublicKey(): string | undefined {
  const env = loadEnv(notifyEnv);
  return env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY ? env.VAPID_PUBLIC_KEY : undefined;
}

function originPattern(origin: string): RegExp {
  const escaped = origin.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace("\\*", "[^./]+");
  return new RegExp(`^${escaped}$`);
}

/** May a push be sent to this endpoint? Only to the configured push services' origins. */
export function allowedEndpoint(endpoint: string): boolean {
  let origin: string;
  try {
    origin = new URL(endpoint).origin;
  } catch {
    return false;
  }
  const configured = loadEnv(notifyEnv).ROOMKIT_PUSH_ORIGINS;
  const origins = configured
    ? configured
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean)
    : DEFAULT_ORIGINS;
  return origins.some((o) => originPattern(o).test(origin));
}

/**
 * Encrypts `payload` for `target` and sends it.
 *
 * @example
 * if ((await sendPush(subscription, payload)) === "gone") await deleteSubscription(subscription);
 */
export async function sendPush(target: PushTarget, payload: PushPayload): Promise<PushResult> {
  const env = loadEnv(notifyEnv);
  if (!env.VAPID_PUBLIC_KEY || !env.VAPID_PRIVATE_KEY) return "refused";
  if (!allowedEndpoint(target.endpoint)) return "refused";
  let request: { method: string; headers: Record<string, string | number>; body: Uint8Array | null };
  try {
    request = webpush.generateRequestDetails(
      { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } },
      JSON.stringify(payload),
      {
        vapidDetails: {
          subject: env.VAPID_SUBJECT ?? "mailto:notifications@roomkit.dev",
          publicKey: env.VAPID_PUBLIC_KEY,
          privateKey: env.VAPID_PRIVATE_KEY,
        },
        TTL: TTL_SECONDS,
        contentEncoding: "aes128gcm",
        urgency: payload.kind === "invite" ? "normal" : "high",
      },
    );
  } catch {
    // Keys the browser never made (a hand-written row): no push service would take it.
    return "refused";
  }
  const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
  delete headers["Content-Length"];
  try {
    const res = await fetch(target.endpoint, {
      method: request.method,
      headers,
      body: request.body ? new Uint8Array(request.body) : null,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return "sent";
    if (res.status === 404 || res.status === 410) return "gone";
    if (res.status === 429 || res.status >= 500) return "failed";
    return "refused";
  } catch {
    return "failed";
  }
}
