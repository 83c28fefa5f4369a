import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roomWith } from "../support/rooms.ts";
import { EXTERNAL_STACK, localOnly, startE2EStack, type TestStack } from "../support/stack.ts";
import { must, signUpAll } from "../support/users.ts";
import { eventually, record, sleep } from "../support/wait.ts";

/**
 * How a room session follows the user's access token: short-lived tokens (10 s here) so expiry and
 * refresh happen within the test. The test clients do not refresh on their own
 * (autoRefreshToken: false), so each test decides whether a refresh happens. Sign-out is in
 * test/e2e/revocation.test.ts, on a stack with the default token lifetime.
 */

const TOKEN_TTL_SECONDS = 10;
let stack: TestStack;
beforeAll(async () => {
  stack = await startE2EStack(localOnly({ accessTokenTtlSeconds: TOKEN_TTL_SECONDS }));
});
afterAll(async () => {
  await stack?.stop();
});

// Needs short-lived access tokens (accessTokenTtlSeconds) so expiry and refresh happen in the test: local stack only.
// The two tests mostly wait for tokens to age, each with its own users: they run side by side.
describe.skipIf(EXTERNAL_STACK)("room session and auth session", () => {
  it.concurrent("when the access token expires without a refresh, then the session ends with token_expired", async () => {
    const [alice, bob] = await signUpAll(stack, "Alice", "Bob");
    const roomId = await roomWith(alice, [bob], { name: "Lifecycle" });
    const session = must(await bob.roomkit.openRoom(roomId));
    const saw = record(session);
    await eventually(() => saw.closed.length === 1, (TOKEN_TTL_SECONDS + 4) * 1000);
    expect(saw.closed[0]?.reason).toBe("token_expired");
    expect(session.closeReason).toBe("token_expired");
  });

  it.concurrent("when the token is refreshed before it expires, then the session stays open, catches up, and keeps receiving past the old expiry", async () => {
    const [alice, bob] = await signUpAll(stack, "Alice", "Bob");
    const roomId = await roomWith(alice, [bob], { name: "Lifecycle" });
    // A fresh token right before opening, so set-up time on a slow machine does not eat the window.
    const first = (await bob.supabase.auth.refreshSession()).data.session;
    const firstExpiry = (first?.expires_at ?? 0) * 1000;
    expect(firstExpiry).toBeGreaterThan(Date.now());
    const session = must(await bob.roomkit.openRoom(roomId));
    const saw = record(session);

    // Halfway through the first token's life, a refresh: the session catches up.
    await sleep(firstExpiry - (TOKEN_TTL_SECONDS * 1000) / 2 - Date.now());
    expect((await bob.supabase.auth.refreshSession()).error).toBeNull();
    await eventually(() => saw.resynced.length >= 1);

    // Past the first token's expiry (by more than a second, so Realtime's check has run): still
    // open, and still live. The second token has half its life left for the message to arrive.
    await sleep(firstExpiry + 1500 - Date.now());
    expect(saw.closed).toEqual([]);
    expect((await alice.supabase.auth.refreshSession()).error).toBeNull();
    const late = must(await alice.roomkit.messages.send(roomId, "still with us?"));
    await eventually(() => saw.message.some((m) => m.id === late.id) || saw.closed.length > 0);
    expect(saw.closed).toEqual([]);
    expect(saw.message.map((m) => m.id)).toContain(late.id);
    await session.close();
  });
});
