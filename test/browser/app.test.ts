import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppServer } from "../../packages/stack/src/app.ts";
import { realtimeSurfaceFor } from "../../packages/stack/src/realtime/index.ts";
import { type FakeLlm, startFakeLlm, streamOf, uniqueName } from "../support/fakes.ts";
import { setParticipantTimeout } from "../support/rooms.ts";
import { EXTERNAL_STACK, localOnly, startE2EStack, type TestStack } from "../support/stack.ts";
import { must } from "../support/users.ts";
import { eventually } from "../support/wait.ts";
import {
  apiAs,
  CHROMIUM_PATH,
  HAVE_CHROMIUM,
  IN_CI,
  launchChromium,
  messageTexts,
  serveAppFor,
  signUpInBrowser,
  story,
  type User,
} from "./support.ts";

/**
 * The web app (app/) in real Chromium, several users at once, each in their own browser context,
 * against the local stack. Every story makes its own users and rooms; a failing story leaves a
 * screenshot per user in test-results/browser/.
 */

const missing = HAVE_CHROMIUM
  ? undefined
  : `no Chromium at ${CHROMIUM_PATH} (install it with \`apt-get install -y chromium\`)`;
if (missing && !IN_CI) console.warn(`Browser suite SKIPPED: ${missing}.`);

const STORY_TIMEOUT_MS = 150_000;
/**
 * The participant timeout (production: 45 s) and the sweep (production: 10 s) are shortened here,
 * and the app's heartbeat with them (ten heartbeats a timeout, as test/e2e/closed-tab), so a
 * closed tab is let go within seconds by the production mechanism.
 */
const PARTICIPANT_TIMEOUT_SECONDS = 5;
const HEARTBEAT_MS = 500;
const SWEEP_MS = 300;

describe.skipIf(missing !== undefined && !IN_CI)(
  missing ? `web app in Chromium (skipped: ${missing})` : "web app in Chromium",
  () => {
    if (missing) {
      it("when CI=true, then Chromium must be installed", () => {
        throw new Error(`CI=true but ${missing}: .ci/run installs it before npm test`);
      });
      return;
    }

    let stack: TestStack;
    let llm: FakeLlm;
    let app: AppServer;
    let browser: Browser;
    beforeAll(async () => {
      llm = await startFakeLlm();
      [stack, browser] = await Promise.all([
        startE2EStack(
          localOnly({
            functionsEnv: { AI_BASE_URL: llm.url, AI_API_KEY: "test", AI_MODEL: "fake" },
            sweepIntervalMs: SWEEP_MS,
          }),
        ),
        launchChromium(),
      ]);
      if (stack.local) await setParticipantTimeout(stack, PARTICIPANT_TIMEOUT_SECONDS);
      app = await serveAppFor(stack, stack.local ? { heartbeatMs: HEARTBEAT_MS } : {});
    }, 180_000);
    afterAll(async () => {
      await browser?.close();
      await app?.close();
      await stack?.stop();
      await llm?.close();
    });

    const signUp = (name: string) => signUpInBrowser(browser, app.url, name);

    /** Alice's room with Bob in it, arranged through the client library; both pages show it. */
    async function roomWithBob(alice: User, bob: User, name: string): Promise<string> {
      const [a, b] = await Promise.all([apiAs(stack, alice), apiAs(stack, bob)]);
      const room = must(await a.roomkit.rooms.create({ name, ai_mode: "off" }));
      const invite = must(await a.roomkit.invites.send(room.id, { invitee_id: b.id }));
      must(await b.roomkit.invites.accept(invite.id));
      await Promise.all([openRoom(alice.page, room.id, name), openRoom(bob.page, room.id, name)]);
      return room.id;
    }

    async function openRoom(page: Page, roomId: string, name: string): Promise<void> {
      await page.goto(`${app.url}/#/rooms/${roomId}`);
      await page.getByTestId("room-title").getByText(name).waitFor();
    }

    async function send(page: Page, text: string): Promise<void> {
      await page.getByLabel("Message", { exact: true }).fill(text);
      await page.getByLabel("Message", { exact: true }).press("Enter");
    }

    const bodies = (page: Page, text: string) =>
      page.getByTestId("message-body").getByText(text, { exact: true });

    it("when the stack builds the app in a process whose NODE_ENV is not production (Vitest's is test), then it still serves React's production build", async () => {
      expect(process.env.NODE_ENV).toBe("test");
      const html = await (await fetch(app.url)).text();
      const script = html.match(/<script type="module"[^>]* src="\.\/(assets\/[^"]+\.js)"/)?.[1];
      expect(script).toBeDefined();
      const bundle = await (await fetch(`${app.url}/${script}`)).text();
      // React's production build reports errors by number; its development build carries warnings.
      expect({
        production: bundle.includes("Minified React error"),
        development: bundle.includes('should have a unique "key" prop'),
      }).toEqual({ production: true, development: false });
    });

    it(
      "when Alice invites Bob by email, then his inbox shows it live, he accepts, they chat, see each other typing and online, and Bob scrolls back through 120 messages",
      async () => {
        let users: User[] = [];
        await story(
          "invite-chat-scroll",
          () => users,
          async () => {
            const [alice, bob] = await Promise.all([signUp("Alice"), signUp("Bob")]);
            users = [alice, bob];
            const roomName = uniqueName("Book club");

            await bob.page.getByRole("link", { name: "Invites" }).click();
            await bob.page.getByTestId("no-invites").waitFor();

            await alice.page.getByLabel("Room name").fill(roomName);
            await alice.page.getByLabel("AI participant").selectOption("off");
            await alice.page.getByRole("button", { name: "Create room" }).click();
            await alice.page.getByTestId("room-title").getByText(roomName).waitFor();
            await alice.page.getByRole("textbox", { name: "Invite by email" }).fill(bob.email);
            await alice.page.getByRole("button", { name: "Invite", exact: true }).click();
            await alice.page.getByText(`Invite sent to ${bob.email}.`).waitFor();

            // Live: Bob's inbox was open before the invite existed, and is not reloaded.
            const invite = bob.page.getByTestId("invite").filter({ hasText: roomName });
            await invite.getByText("Alice").waitFor();
            await bob.page.getByRole("button", { name: `Accept invite to ${roomName}` }).click();
            await bob.page.getByTestId("room-title").getByText(roomName).waitFor();

            await alice.page.getByTestId("online").getByText("Online: Bob").waitFor();
            await bob.page.getByTestId("online").getByText("Online: Alice").waitFor();

            await alice.page.getByLabel("Message", { exact: true }).pressSequentially("Hi B", { delay: 30 });
            await bob.page.getByTestId("typing").getByText("Alice is typing…").waitFor();
            await send(alice.page, "Hi Bob, welcome!");
            await bodies(bob.page, "Hi Bob, welcome!").waitFor();
            await bob.page.getByLabel("Message", { exact: true }).pressSequentially("Hello", { delay: 30 });
            await alice.page.getByTestId("typing").getByText("Bob is typing…").waitFor();
            await send(bob.page, "Hello Alice!");
            await bodies(alice.page, "Hello Alice!").waitFor();
            // Sending clears the indicator for the other side.
            await alice.page.getByTestId("typing").getByText("Bob is typing…").waitFor({ state: "detached" });

            // 120 more messages; Bob reloads and pages back through them from the newest.
            const a = await apiAs(stack, alice);
            const roomId = bob.page.url().split("/").pop()!;
            const sent: string[] = [];
            for (let i = 1; i <= 120; i++) {
              const text = `Msg ${String(i).padStart(3, "0")}`;
              must(await a.roomkit.messages.send(roomId, text));
              sent.push(text);
            }
            await bob.page.reload();
            await bodies(bob.page, "Msg 120").waitFor();
            expect((await messageTexts(bob.page)).filter((t) => t.startsWith("Msg ")).length).toBeLessThan(
              120,
            );
            const list = bob.page.getByTestId("message-list");
            await list.hover();
            await eventually(async () => {
              if (await bob.page.getByTestId("history-start").isVisible()) return true;
              await bob.page.mouse.wheel(0, -2500);
              return false;
            }, 60_000);
            await bodies(bob.page, "Msg 001").scrollIntoViewIfNeeded();
            const texts = await messageTexts(bob.page);
            expect(texts.filter((t) => t.startsWith("Msg "))).toEqual(sent);
            expect(texts.slice(0, 2)).toEqual(["Hi Bob, welcome!", "Hello Alice!"]);
          },
        );
      },
      STORY_TIMEOUT_MS,
    );

    it.skipIf(EXTERNAL_STACK)(
      "when Alice asks @ai in a room with AI, then the reply visibly streams in for her and Bob, and stays after a reload",
      async () => {
        let users: User[] = [];
        await story(
          "ai-stream",
          () => users,
          async () => {
            const [alice, bob] = await Promise.all([signUp("Alice"), signUp("Bob")]);
            users = [alice, bob];
            const roomName = uniqueName("Reading room");
            const parts = ["Try ", "Piranesi ", "by ", "Susanna ", "Clarke: ", "a house ", "of tides."];
            const answer = parts.join("");
            llm.script(roomName, () => streamOf(parts, { delayMs: 350 }));

            const [a, b] = await Promise.all([apiAs(stack, alice), apiAs(stack, bob)]);
            const room = must(await a.roomkit.rooms.create({ name: roomName, ai_mode: "mention" }));
            must(
              await b.roomkit.invites.accept(
                must(await a.roomkit.invites.send(room.id, { invitee_id: b.id })).id,
              ),
            );
            await Promise.all([
              openRoom(alice.page, room.id, roomName),
              openRoom(bob.page, room.id, roomName),
            ]);

            // Record every text the streaming reply shows, as it changes.
            for (const user of users) {
              await user.page.evaluate(() => {
                const seen: string[] = [];
                (window as unknown as { aiTexts: string[] }).aiTexts = seen;
                new MutationObserver(() => {
                  const text =
                    document.querySelector('[data-testid="ai-streaming"] .body')?.textContent ?? "";
                  if (text && seen[seen.length - 1] !== text) seen.push(text);
                }).observe(document.body, { subtree: true, childList: true, characterData: true });
              });
            }
            await send(alice.page, "@ai what should we read next?");

            for (const user of users) {
              const stored = user.page.locator('[data-kind="ai"] [data-testid="message-body"]');
              await stored.getByText(answer, { exact: true }).waitFor({ timeout: 30_000 });
              const partial = (
                await user.page.evaluate(() => (window as unknown as { aiTexts: string[] }).aiTexts)
              )
                .filter((t) => t !== "is thinking…")
                .filter((t) => t !== answer);
              // It grew in front of them: several partial texts, each a prefix of the next and of the answer.
              expect(partial.length, `${user.name} saw ${JSON.stringify(partial)}`).toBeGreaterThanOrEqual(2);
              for (const text of partial) expect(answer.startsWith(text)).toBe(true);
              await user.page.getByTestId("ai-streaming").waitFor({ state: "detached" });
              expect(await stored.count()).toBe(1);
            }

            await alice.page.reload();
            const after = alice.page.locator('[data-kind="ai"] [data-testid="message-body"]');
            await after.getByText(answer, { exact: true }).waitFor();
            expect(await after.count()).toBe(1);
            expect(await alice.page.getByTestId("ai-streaming").count()).toBe(0);
          },
        );
      },
      STORY_TIMEOUT_MS,
    );

    it.skipIf(EXTERNAL_STACK)(
      "when people join a coworking room, then lobby counts change live, a full room says so, a mic switch is seen, and a closed tab disappears from the list",
      async () => {
        let users: User[] = [];
        await story(
          "coworking",
          () => users,
          async () => {
            const [alice, bob, carol] = await Promise.all([signUp("Alice"), signUp("Bob"), signUp("Carol")]);
            users = [alice, bob, carol];
            const roomName = uniqueName("Pair desk");
            const { data: room, error } = await stack
              .admin()
              .from("rooms")
              .insert({ kind: "coworking", name: roomName, description: "Two seats", capacity: 2 })
              .select("id")
              .single();
            if (error) throw new Error(error.message);

            const card = (page: Page) => page.getByTestId("lobby-room").filter({ hasText: roomName });
            const count = (page: Page, n: number) =>
              card(page).locator(".count").getByText(String(n), { exact: true });
            for (const user of users) {
              await user.page.getByRole("link", { name: "Coworking" }).click();
              await count(user.page, 0).waitFor();
            }

            await card(bob.page)
              .getByRole("link", { name: `Join ${roomName}` })
              .click();
            await bob.page.getByTestId("room-title").getByText(roomName).waitFor();
            await bob.page.getByTestId("voice-status").getByText("Voice is not configured").waitFor();
            await count(alice.page, 1).waitFor();
            await count(carol.page, 1).waitFor();

            await card(alice.page)
              .getByRole("link", { name: `Join ${roomName}` })
              .click();
            await alice.page.getByTestId("room-title").getByText(roomName).waitFor();
            await count(carol.page, 2).waitFor();
            await card(carol.page).getByTestId("lobby-full").waitFor();
            // Even going straight to the room, the server refuses the third seat and the page says so.
            await carol.page.goto(`${app.url}/#/coworking/${room.id}`);
            await carol.page
              .locator('[data-testid="join-failed"][data-code="room_full"]')
              .getByText("is full")
              .waitFor();

            const participant = (page: Page, name: string) =>
              page.getByTestId("participant").filter({ hasText: name });
            await participant(bob.page, "Alice").waitFor();
            await bob.page.locator('[data-kind="system"]').getByText("Alice joined").waitFor();
            await send(alice.page, "Morning, Bob");
            await bodies(bob.page, "Morning, Bob").waitFor();
            await alice.page.getByRole("button", { name: "Send 🎉" }).click();
            await bob.page.locator('[data-kind="emoji"]').getByText("🎉").waitFor();
            await alice.page.getByRole("button", { name: "Burst 👏" }).click();
            await bob.page.getByTestId("burst").getByText("👏").waitFor();

            await alice.page.getByTestId("mic-toggle").click();
            await participant(bob.page, "Alice").and(bob.page.locator('[data-mic="on"]')).waitFor();
            await alice.page.getByTestId("mic-toggle").click();
            await participant(bob.page, "Alice").and(bob.page.locator('[data-mic="off"]')).waitFor();

            // Bob closes his tab: no leave is sent. The server's expiry of a participant without
            // heartbeats (shortened above) takes him off Alice's list; Alice's open tab stays.
            await bob.page.close();
            await participant(alice.page, "Bob").waitFor({ state: "detached", timeout: 20_000 });
            await alice.page.locator('[data-kind="system"]').getByText("Bob left").waitFor();
            expect(await participant(alice.page, "Alice").count()).toBe(1);
          },
        );
      },
      STORY_TIMEOUT_MS,
    );

    it.skipIf(EXTERNAL_STACK)(
      "when the stack's realtime restarts mid-conversation, then the banner comes and goes and no message is missing or doubled",
      async () => {
        let users: User[] = [];
        await story(
          "realtime-restart",
          () => users,
          async () => {
            const [alice, bob] = await Promise.all([signUp("Alice"), signUp("Bob")]);
            users = [alice, bob];
            await roomWithBob(alice, bob, uniqueName("Standup"));
            const expected: string[] = [];
            for (const [user, text] of [
              [alice, "before 1"],
              [bob, "before 2"],
            ] as const) {
              await send(user.page, text);
              expected.push(text);
              await bodies(user === alice ? bob.page : alice.page, text).waitFor();
            }
            for (const user of users) {
              await user.page.evaluate(() => {
                const w = window as unknown as { bannerSeen: boolean };
                w.bannerSeen = false;
                new MutationObserver(() => {
                  if (document.querySelector('[data-testid="reconnecting-banner"]')) w.bannerSeen = true;
                }).observe(document.body, { subtree: true, childList: true });
              });
            }

            const restarting = realtimeSurfaceFor(stack.url)!.restart();
            // Sends go over REST, so they work while realtime is away; the others get them on catch-up.
            for (let i = 1; i <= 3; i++) {
              for (const user of users) {
                const text = `${user.name} during ${i}`;
                await send(user.page, text);
                expected.push(text);
                await bodies(user.page, text).waitFor();
              }
            }
            await restarting;
            for (const user of users) {
              await user.page.waitForFunction(
                () => (window as unknown as { bannerSeen: boolean }).bannerSeen,
              );
              await user.page
                .getByTestId("reconnecting-banner")
                .waitFor({ state: "detached", timeout: 30_000 });
            }
            await send(alice.page, "after");
            expected.push("after");
            await bodies(bob.page, "after").waitFor();

            for (const user of users) {
              await eventually(async () => (await messageTexts(user.page)).length >= expected.length, 15_000);
              const texts = await messageTexts(user.page);
              // Exactly once each; each sender's messages in the order sent.
              expect([...texts].sort()).toEqual([...expected].sort());
              for (const sender of ["Alice", "Bob"]) {
                const own = expected.filter((t) => t.startsWith(`${sender} during`));
                expect(texts.filter((t) => t.startsWith(`${sender} during`))).toEqual(own);
              }
            }
          },
        );
      },
      STORY_TIMEOUT_MS,
    );

    it(
      "when Alice removes Bob from a room, then Bob's view says so and shows nothing new afterwards",
      async () => {
        let users: User[] = [];
        await story(
          "removed",
          () => users,
          async () => {
            const [alice, bob] = await Promise.all([signUp("Alice"), signUp("Bob")]);
            users = [alice, bob];
            const roomName = uniqueName("Secret plans");
            await roomWithBob(alice, bob, roomName);
            await send(alice.page, "Before you go");
            await bodies(bob.page, "Before you go").waitFor();

            await alice.page.getByRole("button", { name: "Remove Bob" }).click();
            await bob.page
              .locator('[data-testid="room-closed"][data-reason="removed"]')
              .getByText(`You were removed from “${roomName}”.`)
              .waitFor();
            await alice.page.getByTestId("member").filter({ hasText: "Bob" }).waitFor({ state: "detached" });

            await send(alice.page, "Now that Bob is gone");
            await bodies(alice.page, "Now that Bob is gone").waitFor();
            // The sentinel: an invite Alice sends Bob after that message, which his open page shows live.
            const [a, b] = await Promise.all([apiAs(stack, alice), apiAs(stack, bob)]);
            const next = must(
              await a.roomkit.rooms.create({ name: uniqueName("Next plans"), ai_mode: "off" }),
            );
            must(await a.roomkit.invites.send(next.id, { invitee_id: b.id }));
            await bob.page.getByTestId("invite-count").waitFor();
            expect(await bob.page.getByText("Now that Bob is gone").count()).toBe(0);
            expect(await bob.page.getByTestId("message-list").count()).toBe(0);
            // And the room is gone from his list.
            await bob.page
              .getByTestId("room-link")
              .filter({ hasText: roomName })
              .waitFor({ state: "detached" });
          },
        );
      },
      STORY_TIMEOUT_MS,
    );
  },
);
