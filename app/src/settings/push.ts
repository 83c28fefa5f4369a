import type { SupabaseClient } from "@supabase/supabase-js";
import { roomkitSchema } from "../backend.ts";

/** The service worker, built from `app/public/sw.js` next to index.html (its scope is the app). */
const SERVICE_WORKER_URL = "sw.js";
/** `push_subscriptions.user_agent` holds at most this many characters. */
const USER_AGENT_MAX = 512;

/**
 * Push on this device, as the settings page shows it: `unsupported` (no service worker or Push
 * API), `denied` (the user blocked notifications for the site), `unconfigured` (the project has
 * no VAPID key), or `off` / `on` (a subscription saved for the signed-in user).
 */
export type PushState = "unsupported" | "denied" | "unconfigured" | "off" | "on";

export interface PushResult {
  state: PushState;
  /** Why the last action did not do what was asked, when it did not. */
  error?: string;
}

/** True when this browser has service workers, the Push API and notifications. */
export function pushSupported(): boolean {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

/**
 * The project's VAPID public key (`GET notify/config`) as the bytes `pushManager.subscribe`
 * takes, `null` when push is not configured there.
 */
async function vapidKey(supabase: SupabaseClient): Promise<Uint8Array | null> {
  const { data, error } = await supabase.functions.invoke<{ vapid_public_key: string | null }>(
    "notify/config",
    { method: "GET" },
  );
  if (error) throw new Error(`Cannot read the push settings: ${error.message}`);
  return data?.vapid_public_key ? base64UrlBytes(data.vapid_public_key) : null;
}

/** Base64url (no padding) to bytes. */
export function base64UrlBytes(text: string): Uint8Array {
  const base64 = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function sameBytes(a: ArrayBuffer | null | undefined, b: Uint8Array): boolean {
  if (!a || a.byteLength !== b.length) return false;
  const bytes = new Uint8Array(a);
  return bytes.every((byte, i) => byte === b[i]);
}

/** The browser's push subscription for this app, if its service worker was registered before. */
async function existingSubscription(): Promise<PushSubscription | null> {
  const registration = await navigator.serviceWorker.getRegistration();
  return (await registration?.pushManager.getSubscription()) ?? null;
}

/**
 * What push looks like on this device for the signed-in user: `on` only when the browser has a
 * subscription and the user's rows hold it (another user of this browser may have made it).
 */
export async function readPushState(supabase: SupabaseClient): Promise<PushState> {
  if (!pushSupported()) return "unsupported";
  if (Notification.permission === "denied") return "denied";
  const [key, subscription] = await Promise.all([vapidKey(supabase), existingSubscription()]);
  if (!key) return "unconfigured";
  if (!subscription) return "off";
  const { data } = await roomkitSchema(supabase)
    .from("push_subscriptions")
    .select("id")
    .eq("endpoint", subscription.endpoint)
    .maybeSingle();
  return data ? "on" : "off";
}

/**
 * Turns push on for this device: asks for notification permission, registers the service worker,
 * subscribes with the project's VAPID key (reusing a subscription made with the same key) and
 * saves the subscription for the signed-in user. Resolves with the new state.
 */
export async function turnOnPush(supabase: SupabaseClient): Promise<PushResult> {
  if (!pushSupported()) return { state: "unsupported" };
  const permission = await Notification.requestPermission();
  if (permission === "denied") return { state: "denied" };
  if (permission !== "granted") return { state: "off", error: "Notifications were not allowed." };
  const key = await vapidKey(supabase);
  if (!key) return { state: "unconfigured" };
  const registration = await navigator.serviceWorker.register(SERVICE_WORKER_URL);
  await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameBytes(subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ??= await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: key as BufferSource,
  });
  const error = await saveSubscription(supabase, subscription);
  return error ? { state: "off", error } : { state: "on" };
}

/** Saves `subscription` as the signed-in user's row (a new one, or new keys for the same endpoint). */
async function saveSubscription(
  supabase: SupabaseClient,
  subscription: PushSubscription,
): Promise<string | null> {
  const { endpoint, keys } = subscription.toJSON();
  if (!endpoint || !keys?.p256dh || !keys.auth) return "The browser gave an incomplete push subscription.";
  const { error } = await roomkitSchema(supabase)
    .from("push_subscriptions")
    .upsert(
      {
        endpoint,
        p256dh: keys.p256dh,
        auth: keys.auth,
        user_agent: navigator.userAgent.slice(0, USER_AGENT_MAX),
      },
      { onConflict: "user_id,endpoint" },
    );
  return error?.message ?? null;
}

/**
 * Turns push off for this device: removes the signed-in user's row for it, then unsubscribes the
 * browser (even when the row could not be removed: the push service then answers 410 and the
 * sender drops the row). Sign-out calls this first, so the next user of the browser gets nothing.
 */
export async function turnOffPush(supabase: SupabaseClient): Promise<PushResult> {
  if (!pushSupported()) return { state: "unsupported" };
  const subscription = await existingSubscription();
  if (!subscription) return { state: "off" };
  const { error } = await roomkitSchema(supabase)
    .from("push_subscriptions")
    .delete()
    .eq("endpoint", subscription.endpoint);
  await subscription.unsubscribe();
  return error ? { state: "off", error: error.message } : { state: "off" };
}
