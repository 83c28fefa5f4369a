import { randomUUID } from "node:crypto";
import type { Browser, BrowserContext, Page } from "playwright-core";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PushPayload } from "../../functions/_shared/contract.ts";
import type { AppServer } from "../../packages/stack/src/app.ts";
import {
  decryptPush,
  type FakePushService,
  type FakeSubscription,
  startFakePushService,
} from "../support/fake-push.ts";
import { uniqueName } from "../support/fakes.ts";
import { freePort } from "../support/global-setup.ts";
import { mailTo as inboxMailTo, mailIds, verifyLink } from "../support/inbox.ts";
import { EXTERNAL_STACK, startTestStack, type TestStack } from "../support/stack.ts";
import { must, type Person, signUp } from "../support/users.ts";
import { eventually } from "../support/wait.ts";
import {
  apiAs,
  CHROMIUM_PATH,
  HAVE_CHROMIUM,
  IN_CI,
  launchChromium,
  serveAppFor,
  signUpInBrowser,
  story,
  type User,
} from "./support.ts";

/**
 * Notifications in the web app, in real Chromium against the local stack: the settings page
 * subscribes this device, invites and @mentions reach a user who is away, the app's own service
 * worker shows them, and a kind switched off stays off; an address without an account gets Auth's
 * invite mail (in the stack's inbox), whose link signs them in to the app with the invite waiting,
 * and once signed out they get back in with a sign-in link by email (or a password set in Settings).
 *
 * One edge is mocked, because Chromium cannot reach a real push service here (no network): an init
 * script replaces `PushManager.prototype.subscribe` / `getSubscription` with a subscription on the
 * fake push service, with keys this test made (`fake.subscribe()`). Everything after it is real:
 * the app saves the subscription through REST, the notify function encrypts and sends to the fake
 * service, the test decrypts what arrived (as the browser's push client would) and hands it to the
 * page's registered service worker through CDP (`ServiceWorker.deliverPushMessage`).
 */

const missing = !HAVE_CHROMIUM
  ? `no Chromium at ${CHROMIUM_PATH} (install it with \`apt-get install -y chromium\`)`
  : undefined;
if (missing && !IN_CI) console.warn(`Notifications browser suite SKIPPED: ${missing}.`);

/** Mentions wait this long for the recipient to read them (default 20 s). */
const DELAY_SECONDS = 1;
const STORY_TIMEOUT_MS = 60_000;

describe.skipIf((missing !== undefined && !IN_CI) || EXTERNAL_STACK)(
  missing
    ? `notifications in the web app (skipped: ${missing})`
    : EXTERNAL_STACK
      ? "notifications in the web app (skipped: needs the local stack, to point notify at a fake push service and read its inbox)"
      : "notifications in the web app",
  () => {
    if (missing) {
      it("when CI=true, then Chromium must be installed", () => {
        throw new Error(`CI=true but ${missing}: .ci/run installs it before npm test`);
      });
      return;
    }

    let push: FakePushService;
    let stack: TestStack;
    let sql: postgres.Sql;
    let app: AppServer;
    let browser: Browser;
    beforeAll(async () => {
      push = await startFakePushService();
      // Mails link to the app, and the app names the stack: the app's port comes first.
      const appPort = await freePort();
      [stack, browser] = await Promise.all([
        startTestStack({
          notifyIntervalMs: 250,
          appUrl: `http://127.0.0.1:${appPort}`,
          functionsEnv: { ROOMKIT_PUSH_ORIGINS: push.origin },
        }),
        launchChromium(),
      ]);
      sql = postgres(stack.dbUrl!, { max: 2, onnotice: () => {} });
      [app] = await Promise.all([
        serveAppFor(stack, { port: appPort }),
        sql`update roomkit_private.limits set notify_delay_seconds = ${DELAY_SECONDS}`,
      ]);
    }, 180_000);
    afterAll(async () => {
      await browser?.close();
      await app?.close();
      await sql?.end();
      await stack?.stop();
      await push?.close();
    });

    /** A person in their own browser whose push subscriptions land on the fake push service. */
    async function signUpWithPush(
      name: string,
      options: { allowNotifications: boolean },
    ): Promise<{ user: User; sub: FakeSubscription }> {
      const sub = push.subscribe();
      const user = await signUpInBrowser(browser, app.url, name, {
        prepare: async (context) => {
          if (options.allowNotifications) await grantNotifications(context);
          await context.addInitScript(fakePushManager(sub));
        },
      });
      return { user, sub };
    }

    const grantNotifications = (context: BrowserContext) =>
      context.grantPermissions(["notifications"], { origin: app.url });

    const pushState = (page: Page, state: string) =>
      page.locator(`[data-testid="push-state"][data-state="${state}"]`).waitFor();

    async function openSettings(page: Page): Promise<void> {
      await page.getByRole("link", { name: "Settings" }).click();
      await page.getByRole("heading", { name: "Settings" }).waitFor();
    }

    async function turnOnPush(page: Page): Promise<void> {
      await page.getByRole("button", { name: "Turn on push notifications" }).click();
      await pushState(page, "on");
    }

    const subscriptionsOf = async (userId: string) => [
      ...(await sql<{ endpoint: string; p256dh: string; auth: string }[]>`
        select endpoint, p256dh, auth from roomkit.push_subscriptions where user_id = ${userId}`),
    ];

    /** The pushes the fake service got for `sub` so far (at least `count`), decrypted. */
    async function pushesTo(sub: FakeSubscription, count: number): Promise<PushPayload[]> {
      await push.received(sub.endpoint, count);
      return push.requests
        .filter((r) => sub.endpoint.endsWith(r.path))
        .map((r) => JSON.parse(decryptPush(sub, r.body)) as PushPayload);
    }

    /**
     * What the browser's push client does on receipt: hands the (decrypted) payload to the page's
     * service worker, here through CDP, and waits until the worker's push event has finished, that
     * is until its `waitUntil(showNotification(…))` settled. Resolves with the notifications shown.
     *
     * Nothing reads the notifications while one is being shown. Chromium's getNotifications() deletes
     * from its database every stored notification that the platform does not yet report as displayed
     * (unless it was created after the read began), so a read racing showNotification loses that
     * notification for good (platform_notification_context_impl.cc). Polling for it did exactly that
     * in one loaded run in nine. DevTools' Background Services log says when the event has finished.
     */
    async function deliverToServiceWorker(user: User, payload: PushPayload): Promise<ShownNotification[]> {
      const data = JSON.stringify(payload);
      const cdp = await user.context.newCDPSession(user.page);
      try {
        // The log replays earlier deliveries first: this one's completion follows its own dispatch.
        const log: { name: string; metadata: Record<string, string> }[] = [];
        cdp.on("BackgroundService.backgroundServiceEventReceived", ({ backgroundServiceEvent: e }) => {
          log.push({
            name: e.eventName,
            metadata: Object.fromEntries(e.eventMetadata.map((m) => [m.key, m.value])),
          });
        });
        await cdp.send("BackgroundService.setRecording", { shouldRecord: true, service: "pushMessaging" });
        await cdp.send("BackgroundService.startObserving", { service: "pushMessaging" });
        const registered = new Promise<string>((resolve) => {
          cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
            const live = registrations.find((r) => !r.isDeleted && r.scopeURL === `${app.url}/`);
            if (live) resolve(live.registrationId);
          });
        });
        await cdp.send("ServiceWorker.enable");
        await cdp.send("ServiceWorker.deliverPushMessage", {
          origin: app.url,
          registrationId: await registered,
          data,
        });
        const completed = await eventually(
          () => {
            const dispatched = log.findIndex(
              (e) => e.name === "Push event dispatched" && e.metadata.Payload === data,
            );
            return dispatched < 0
              ? undefined
              : log.slice(dispatched).find((e) => e.name === "Push event completed");
          },
          20_000,
          `the service worker's push event for ${payload.tag}`,
        );
        expect(completed.metadata.Status).toBe("Success");
        return await shownNotifications(user.page);
      } finally {
        await cdp.detach();
      }
    }

    /** The notifications queued for `recipientId` about `messageId` (none when they switched the kind off). */
    function queuedFor(messageId: string, recipientId: string) {
      return sql`select id from roomkit_private.notifications where message_id = ${messageId} and recipient_id = ${recipientId}`;
    }

    /** Alice's new room with `guest` invited (through the client library); resolves with its id and the invite. */
    async function inviteTo(alice: Person, guest: string, label: string) {
      const name = uniqueName(label);
      const room = must(await alice.roomkit.rooms.create({ name, ai_mode: "off" }));
      const invite = must(await alice.roomkit.invites.send(room.id, { invitee_id: guest }));
      return { roomId: room.id, name, inviteId: invite.id };
    }

    it(
      "when Bob turns push on in settings and is on another page, then Alice's invite and @mention reach his device and its service worker shows both; signing out removes the device",
      async () => {
        let users: User[] = [];
        await story(
          "push-invite-mention",
          () => users,
          async () => {
            const [{ user: bob, sub }, alice] = await Promise.all([
              signUpWithPush("Bob", { allowNotifications: true }),
              signUp(stack, "Alice"),
            ]);
            users = [bob];
            const bobApi = await apiAs(stack, bob);

            await openSettings(bob.page);
            await pushState(bob.page, "off");
            await turnOnPush(bob.page);
            expect(await subscriptionsOf(bobApi.id)).toEqual([
              { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth },
            ]);
            await bob.page.getByRole("link", { name: "Coworking" }).click();

            const room = await inviteTo(alice, bobApi.id, "Book club");
            const [invited] = await pushesTo(sub, 1);
            expect(invited).toEqual({
              kind: "invite",
              title: `Alice invited you to ${room.name}`,
              body: "Open Roomkit to accept or decline.",
              url: "#/invites",
              tag: `invite:${room.roomId}`,
              room_id: room.roomId,
            });
            expect(await deliverToServiceWorker(bob, invited!)).toEqual([
              { title: invited!.title, body: invited!.body, tag: invited!.tag, url: "#/invites" },
            ]);

            must(await bobApi.roomkit.invites.accept(room.inviteId));
            must(await alice.roomkit.messages.send(room.roomId, "@Bob are you joining us?"));
            const mentioned = (await pushesTo(sub, 2))[1]!;
            expect(mentioned).toMatchObject({
              kind: "mention",
              title: `Alice mentioned you in ${room.name}`,
              body: "@Bob are you joining us?",
              url: `#/rooms/${room.roomId}`,
              tag: `room:${room.roomId}`,
            });
            const shown = await deliverToServiceWorker(bob, mentioned);
            expect(shown.map((n) => n.tag).sort()).toEqual([invited!.tag, mentioned.tag].sort());
            expect(shown.find((n) => n.tag === mentioned.tag)).toMatchObject({
              title: mentioned.title,
              url: mentioned.url,
            });

            await bob.page.getByRole("button", { name: "Sign out" }).click();
            await bob.page.getByRole("tab", { name: "Create account" }).waitFor();
            expect(await subscriptionsOf(bobApi.id)).toEqual([]);
          },
        );
      },
      STORY_TIMEOUT_MS,
    );

    it(
      "when Carol unchecks Mentions, then it stays unchecked after a reload and a later @mention brings no push while an invite still does; blocked notifications and turning push off say so",
      async () => {
        let users: User[] = [];
        await story(
          "push-preferences",
          () => users,
          async () => {
            const [{ user: carol, sub }, alice] = await Promise.all([
              signUpWithPush("Carol", { allowNotifications: false }),
              signUp(stack, "Alice"),
            ]);
            users = [carol];
            const carolApi = await apiAs(stack, carol);
            const room = await inviteTo(alice, carolApi.id, "Standup");
            must(await carolApi.roomkit.invites.accept(room.inviteId));

            // Headless Chromium answers an ungranted permission request with "denied".
            await openSettings(carol.page);
            await carol.page.getByRole("button", { name: "Turn on push notifications" }).click();
            await pushState(carol.page, "denied");
            await carol.page.getByText("Notifications are blocked for this site").waitFor();
            await grantNotifications(carol.context);
            await carol.page.reload();
            await pushState(carol.page, "off");
            await turnOnPush(carol.page);

            const mentions = carol.page.getByRole("checkbox", { name: "Mentions" });
            expect(await mentions.isChecked()).toBe(true);
            await mentions.uncheck();
            await carol.page.getByTestId("preferences-saved").getByText("Saved.").waitFor();
            await carol.page.reload();
            await pushState(carol.page, "on");
            expect(await carol.page.getByRole("checkbox", { name: "Mentions" }).isChecked()).toBe(false);
            expect(await carol.page.getByRole("checkbox", { name: "Invites" }).isChecked()).toBe(true);
            expect(await carol.page.getByRole("checkbox", { name: "AI replies" }).isChecked()).toBe(true);

            const message = must(await alice.roomkit.messages.send(room.roomId, "@Carol status?"));
            // Nothing is even queued for a kind she switched off.
            expect(await queuedFor(message.id, carolApi.id)).toHaveLength(0);
            // The sentinel: an invite sent after the mention arrives, and nothing else did.
            const later = await inviteTo(alice, carolApi.id, "Retro");
            const pushes = await eventually(async () => {
              const all = await pushesTo(sub, 1);
              return all.some((p) => p.room_id === later.roomId) ? all : undefined;
            });
            expect(pushes.map((p) => p.kind)).not.toContain("mention");
            expect(pushes.filter((p) => p.room_id === later.roomId).map((p) => p.kind)).toEqual(["invite"]);

            await carol.page.getByRole("button", { name: "Turn off push notifications" }).click();
            await pushState(carol.page, "off");
            expect(await subscriptionsOf(carolApi.id)).toEqual([]);
          },
        );
      },
      STORY_TIMEOUT_MS,
    );

    const mailTo = (to: string, subject?: string) => inboxMailTo(stack.inboxUrl!, to, subject);
    const mailsTo = (to: string) => mailIds(stack.inboxUrl!, to);

    it(
      "when Alice invites an address without an account, then the mailed link opens the app signed in as that person on the invites page, with no tokens left in the address bar or history, accepting takes them into the room, and the used link then says why it signs no one in",
      async () => {
        let users: Pick<User, "name" | "context" | "page">[] = [];
        await story(
          "invite-link",
          () => users,
          async () => {
            const alice = await signUp(stack, "Alice");
            const name = uniqueName("Launch team");
            const room = must(await alice.roomkit.rooms.create({ name, ai_mode: "off" }));
            const newcomer = `dana-${randomUUID().slice(0, 8)}`;
            must(await alice.roomkit.invites.send(room.id, { invitee_email: `${newcomer}@example.test` }));

            const mail = await mailTo(`${newcomer}@example.test`);
            expect(mail.Subject).toBe("You have been invited");
            const link = verifyLink(mail);
            const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
            const page = await context.newPage();
            users = [{ name: "Dana", context, page }];
            await page.goto(link);

            await page.getByRole("heading", { name: "Invites" }).waitFor();
            expect(page.url()).toBe(`${app.url}/#/invites`);
            // Their name comes from the address until they change it (the profile trigger).
            await page.getByTestId("my-name").getByText(newcomer).waitFor();
            await page.getByTestId("invite-count").getByText("1 pending").waitFor();
            await page.getByTestId("invite").getByText(`Alice invited you to ${name}`).waitFor();

            await page.getByRole("button", { name: `Accept invite to ${name}` }).click();
            await page.getByTestId("room-title").getByText(name).waitFor();
            expect(page.url()).toBe(`${app.url}/#/rooms/${room.id}`);
            must(await alice.roomkit.messages.send(room.id, `Welcome, ${newcomer}!`));
            await page.getByTestId("message-body").getByText(`Welcome, ${newcomer}!`).waitFor();
            await page.getByTestId("invite-count").waitFor({ state: "detached" });

            // Back is the invites page (empty now), and before it the blank tab: no entry holds the tokens.
            await page.goBack();
            await page.getByTestId("no-invites").waitFor();
            expect(page.url()).toBe(`${app.url}/#/invites`);
            await page.goBack();
            expect(page.url()).toBe("about:blank");

            // The link works once: followed again, the sign-in page says why it did not sign anyone in.
            const again = await browser.newContext();
            const second = await again.newPage();
            users.push({ name: "Dana-again", context: again, page: second });
            await second.goto(link);
            await second
              .getByRole("alert")
              .getByText("The link did not sign you in: Email link is invalid or has expired")
              .waitFor();
            await second.getByRole("tab", { name: "Sign in" }).waitFor();
            expect(second.url()).toBe(`${app.url}/#/`);
          },
        );
      },
      STORY_TIMEOUT_MS,
    );

    it(
      "when someone who joined through an invite mail signs out, then a sign-in link by email signs them in again as themselves with no tokens in history; a link asked for an unknown address gets the same answer and no mail; a password set in Settings then signs them in too",
      async () => {
        let users: Pick<User, "name" | "context" | "page">[] = [];
        await story(
          "sign-in-link",
          () => users,
          async () => {
            const alice = await signUp(stack, "Alice");
            const name = uniqueName("Reading group");
            const room = must(await alice.roomkit.rooms.create({ name, ai_mode: "off" }));
            const newcomer = `erin-${randomUUID().slice(0, 8)}`;
            const address = `${newcomer}@example.test`;
            must(await alice.roomkit.invites.send(room.id, { invitee_email: address }));
            const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
            const page = await context.newPage();
            users = [{ name: "Erin", context, page }];
            await page.goto(verifyLink(await mailTo(address, "You have been invited")));
            await page.getByRole("button", { name: `Accept invite to ${name}` }).click();
            await page.getByTestId("room-title").getByText(name).waitFor();
            await page.getByRole("button", { name: "Sign out" }).click();

            const askForLink = async (to: string) => {
              await page.getByLabel("Email").fill(to);
              await page.getByRole("button", { name: "Email me a sign-in link" }).click();
              await page
                .getByRole("status")
                .getByText(`If an account exists for ${to}, a sign-in link is on its way: check your inbox.`)
                .waitFor();
            };
            await page.getByRole("tab", { name: "Email a link" }).click();
            const stranger = `nobody-${randomUUID().slice(0, 8)}@example.test`;
            await askForLink(stranger);
            await askForLink(address);
            // The sentinel: Erin's link, asked for after the unknown address was answered, has arrived.
            const link = verifyLink(await mailTo(address, "Your Magic Link"));
            expect(await mailsTo(stranger)).toEqual([]);
            expect(await page.getByRole("alert").count()).toBe(0);

            await page.goto(link);
            await page.getByTestId("my-name").getByText(newcomer).waitFor();
            await page.getByTestId("room-link").getByText(name).waitFor();
            expect(page.url()).toBe(`${app.url}/#/`);
            const cdp = await context.newCDPSession(page);
            const { entries } = await cdp.send("Page.getNavigationHistory");
            await cdp.detach();
            expect(entries.filter((e) => /access_token|refresh_token/.test(e.url))).toEqual([]);

            await page.getByRole("link", { name: "Settings" }).click();
            const password = `pw-${randomUUID()}`;
            await page.getByLabel("New password").fill(password);
            await page.getByRole("button", { name: "Set password" }).click();
            await page.getByTestId("password-saved").getByText("Password set.").waitFor();
            await page.getByRole("button", { name: "Sign out" }).click();
            await page.getByLabel("Email").fill(address);
            await page.getByLabel("Password").fill(password);
            await page.getByRole("button", { name: "Sign in", exact: true }).click();
            await page.getByTestId("my-name").getByText(newcomer).waitFor();
            await page.getByTestId("room-link").getByText(name).waitFor();
          },
        );
      },
      STORY_TIMEOUT_MS,
    );
  },
);

/** A notification the service worker shows, as `registration.getNotifications()` reports it. */
interface ShownNotification {
  title: string;
  body: string;
  tag: string;
  url: unknown;
}

function shownNotifications(page: Page): Promise<ShownNotification[]> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return (await registration.getNotifications()).map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      url: (n.data as { url?: unknown } | null)?.url,
    }));
  });
}

/**
 * The init script standing in for the browser's push client (see the file comment): `subscribe`
 * and `getSubscription` give a subscription with the test's endpoint and keys, remembered in
 * localStorage with the applicationServerKey it was made with; `unsubscribe` forgets it. Plain
 * JavaScript in a string, so nothing of the test's own compilation reaches the page.
 */
function fakePushManager(sub: Pick<FakeSubscription, "endpoint" | "p256dh" | "auth">): string {
  return `(() => {
    const sub = ${JSON.stringify({ endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth })};
    const stored = "roomkit-test-push-subscription";
    const bytes = (text) =>
      Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
    const make = (key) => ({
      endpoint: sub.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: new Uint8Array(key).buffer },
      getKey: (name) => bytes(name === "p256dh" ? sub.p256dh : sub.auth),
      toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: { p256dh: sub.p256dh, auth: sub.auth } }),
      unsubscribe: async () => {
        localStorage.removeItem(stored);
        return true;
      },
    });
    PushManager.prototype.subscribe = async (options) => {
      const key = options.applicationServerKey;
      const view = ArrayBuffer.isView(key)
        ? new Uint8Array(key.buffer, key.byteOffset, key.byteLength)
        : new Uint8Array(key);
      localStorage.setItem(stored, JSON.stringify([...view]));
      return make([...view]);
    };
    PushManager.prototype.getSubscription = async () => {
      const key = localStorage.getItem(stored);
      return key ? make(JSON.parse(key)) : null;
    };
  })();`;
}
