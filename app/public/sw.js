/**
 * Roomkit's service worker: shows the Web Push notifications the `notify` function sends (invites,
 * @mentions, AI replies) and opens the app where they point. Vite copies it unchanged next to
 * index.html, so its scope is the whole app. The payload is the contract's `pushPayload`:
 * `{ kind, title, body, url, tag, room_id }`, with `url` a hash route relative to the app.
 * It does nothing else: no fetch handler, no caching.
 */

/** Shown when a push carries no readable payload (the browser requires a notification anyway). */
const FALLBACK = {
  title: "Roomkit",
  body: "Something new is waiting for you.",
  url: "#/rooms",
  tag: "roomkit",
};

// A new version takes over at once, and takes open app windows with it (so `navigate` works on them).
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  const payload = readPayload(event.data);
  event.waitUntil(
    self.registration.showNotification(payload.title, {
      body: payload.body,
      // The same tag replaces the older notification (one per room or invite), instead of stacking.
      tag: payload.tag,
      data: { url: payload.url },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openApp(appTarget(event.notification.data?.url)));
});

/**
 * The app URL a notification opens: its hash route resolved against the app, and only ever inside
 * the app (anything that resolves elsewhere opens the app's start page instead).
 */
function appTarget(url) {
  const scope = self.registration.scope;
  try {
    const target = new URL(typeof url === "string" && url.startsWith("#") ? url : FALLBACK.url, scope).href;
    return target.startsWith(scope) ? target : scope;
  } catch {
    return scope;
  }
}

/** `{ title, body, url, tag }` from a push's JSON, each falling back to FALLBACK's. */
function readPayload(data) {
  let value = {};
  try {
    value = data ? data.json() : {};
  } catch {
    // Not JSON: show the fallback rather than nothing.
  }
  const pick = (key) => (typeof value?.[key] === "string" && value[key] ? value[key] : FALLBACK[key]);
  return { title: pick("title"), body: pick("body"), url: pick("url"), tag: pick("tag") };
}

/** Focuses an open app window and navigates it to `target`, or opens a new one. */
async function openApp(target) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((client) => client.url.startsWith(self.registration.scope));
  if (!open) return self.clients.openWindow(target);
  const focused = await open.focus();
  // `navigate` refuses a window this worker does not control; then a new window it is.
  return focused.navigate(target).catch(() => self.clients.openWindow(target));
}
