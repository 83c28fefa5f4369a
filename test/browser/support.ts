import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { type AppServer, ensureAppBuilt, serveApp } from "../../packages/stack/src/app.ts";
import type { RoomkitClient } from "../../src/client/index.ts";
import { REPO_ROOT as ROOT } from "../support/repo.ts";
import type { TestStack } from "../support/stack.ts";
import { signIn, uniqueEmail } from "../support/users.ts";
import { sleep } from "../support/wait.ts";

/**
 * The browser suite drives Debian's Chromium (`apt-get install -y chromium`; npm may not download
 * a browser here) through playwright-core, against the built web app served next to a test stack.
 */
export const CHROMIUM_PATH = process.env.ROOMKIT_CHROMIUM ?? "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH);
export const IN_CI = process.env.CI === "true";

/** Headless, and no connection anywhere but the app and the stack on loopback. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--no-first-run",
  "--mute-audio",
];

const SCREENSHOT_DIR = join(ROOT, "test-results", "browser");

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** A build lock older than this was left by a killed run (a cold build takes 1–2 s). */
const STALE_LOCK_MS = 180_000;

/**
 * `ensureAppBuilt`, one browser file at a time: files that start together would each run the
 * same cold Vite build; the others wait for the lock and then find the build current.
 */
async function buildOnce(appDir: string): Promise<void> {
  const lock = join(
    tmpdir(),
    `roomkit-app-build-${createHash("sha1").update(appDir).digest("hex").slice(0, 12)}`,
  );
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const since = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (since > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
      else await sleep(200);
    }
  }
  try {
    await ensureAppBuilt(appDir);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Builds the app if app/ changed, and serves it pointed at `stack`, on `port` (default: a free
 * one). A stack whose mails link to the app needs the app's URL before the app can know the
 * stack's: take a port first (`freePort()`), start the stack with `appUrl`, then serve here.
 * `heartbeatMs` goes into its config.json (for a stack whose participant timeout the suite shortened).
 */
export async function serveAppFor(
  stack: TestStack,
  options: { port?: number; heartbeatMs?: number } = {},
): Promise<AppServer> {
  const appDir = join(ROOT, "app");
  await buildOnce(appDir);
  return serveApp({
    appDir,
    port: options.port ?? 0,
    config: {
      supabaseUrl: stack.url,
      supabaseKey: stack.anonKey,
      voice: false,
      ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    },
  });
}

/** A person at their own browser (own context: own storage, own session). */
export interface User {
  name: string;
  email: string;
  password: string;
  context: BrowserContext;
  page: Page;
}

/**
 * Opens a new browser context and signs up through the app's form, as a person would; resolves
 * once the signed-in app shows their name. `prepare` runs on the context before the first page
 * opens (permissions, init scripts).
 */
export async function signUpInBrowser(
  browser: Browser,
  appUrl: string,
  name: string,
  options: {
    viewport?: { width: number; height: number };
    prepare?: (context: BrowserContext) => Promise<void>;
  } = {},
): Promise<User> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } });
  await options.prepare?.(context);
  const page = await context.newPage();
  // Confirm dialogs (remove member, delete) are accepted, as the user would.
  page.on("dialog", (dialog) => void dialog.accept());
  const email = uniqueEmail(name);
  const password = `pw-${randomUUID()}`;
  await page.goto(appUrl);
  await page.getByRole("tab", { name: "Create account" }).click();
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).last().click();
  await page.getByTestId("my-name").getByText(name).waitFor();
  return { name, email, password, context, page };
}

/** The same person through the client library in Node, for arranging what a story starts from. */
export async function apiAs(stack: TestStack, user: User): Promise<{ id: string; roomkit: RoomkitClient }> {
  return signIn(stack, user);
}

/**
 * Runs a story; when it fails, saves a screenshot of every user's page under
 * test-results/browser/ before rethrowing. Closes the users' contexts either way.
 */
export async function story(
  name: string,
  users: () => Pick<User, "name" | "context" | "page">[],
  run: () => Promise<void>,
): Promise<void> {
  try {
    await run();
  } catch (error) {
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
    for (const user of users()) {
      if (user.page.isClosed()) continue;
      await user.page
        .screenshot({ path: join(SCREENSHOT_DIR, `${slug}-${user.name.toLowerCase()}.png`), fullPage: true })
        .catch(() => {});
    }
    throw error;
  } finally {
    for (const user of users()) await user.context.close().catch(() => {});
  }
}

/** Texts of the messages a page shows, in order. */
export function messageTexts(page: Page): Promise<string[]> {
  return page.getByTestId("message-body").allTextContents();
}
