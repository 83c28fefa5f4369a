/**
 * A coworking participant who closes the tab (a killed process: no leave, no goodbye on the socket)
 * is gone for the others within the participant timeout plus a sweep, with the usual "left"
 * message; a participant whose tab stays open is not. The timeout (45 s in production) and the
 * sweep (10 s) are shortened here; the mechanism is the production one.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT as ROOT } from "../support/repo.ts";
import { setParticipantTimeout } from "../support/rooms.ts";
import { localOnly, startE2EStack, type TestStack } from "../support/stack.ts";
import { must, type Person, signUp } from "../support/users.ts";
import { eventually, record } from "../support/wait.ts";

// Short for the test, yet ten heartbeats long: a loaded CI machine must not expire an open tab.
const TIMEOUT_SECONDS = 4;
const HEARTBEAT_MS = 400;

let stack: TestStack;
beforeAll(async () => {
  stack = await startE2EStack(localOnly({ sweepIntervalMs: 300 }));
  await setParticipantTimeout(stack, TIMEOUT_SECONDS);
});
afterAll(() => stack?.stop());

/** Starts a tab process for a new user and resolves once it has joined the room and opened it. */
async function openTab(roomId: string): Promise<{ id: string; kill(): void }> {
  const { id, email, password } = await signUp(stack, "Tab");
  // Node itself with tsx as a loader (not the tsx wrapper, whose child would outlive a SIGKILL).
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "test", "e2e", "fixtures", "tab.ts")],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        STACK_URL: stack.url,
        ANON_KEY: stack.anonKey,
        EMAIL: email,
        PASSWORD: password,
        ROOM_ID: roomId,
        HEARTBEAT_MS: String(HEARTBEAT_MS),
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    child.on("exit", (code) => reject(new Error(`tab exited with ${code} before it was ready`)));
  });
  return { id, kill: () => child.kill("SIGKILL") };
}

describe("closed tabs", () => {
  it("when a participant's tab process is killed, then the others see them leave within the timeout; an open tab stays", async () => {
    const lobby = must(await (await signUp(stack, "Lobby")).roomkit.coworking.list());
    const room = lobby.find((r) => r.name === "Creative Studio");
    if (!room) throw new Error("seeded room missing");
    const watcher: Person = await signUp(stack, "Watcher");
    must(await watcher.roomkit.coworking.join(room.id));
    const session = must(await watcher.roomkit.openRoom(room.id, { heartbeatIntervalMs: HEARTBEAT_MS }));
    const saw = record(session);
    const [closing, staying] = await Promise.all([openTab(room.id), openTab(room.id)]);
    try {
      await eventually(() => saw.member_joined.some((m) => m.user_id === staying.id));
      const killedAt = Date.now();
      closing.kill();
      await eventually(
        () => saw.member_left.some((m) => m.user_id === closing.id),
        (TIMEOUT_SECONDS + 12) * 1000,
      );
      expect(Date.now() - killedAt).toBeLessThan((TIMEOUT_SECONDS + 10) * 1000);
      await eventually(() =>
        session.messages.some(
          (m) =>
            m.kind === "system" &&
            (m.metadata as { user_id?: string }).user_id === closing.id &&
            m.body?.endsWith(" left"),
        ),
      );
      // The open tab and the watcher (whose heartbeat kept going) are still in.
      expect(saw.member_left.map((m) => m.user_id)).not.toContain(staying.id);
      expect(session.closeReason).toBeUndefined();
    } finally {
      closing.kill();
      staying.kill();
      await session.close();
    }
  }, 60_000);
});
