/**
 * `roomkit-stack start|status` (and `npm start` in the Roomkit repository): the local stack for the
 * Supabase project in the current folder, like `supabase start` without Docker.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  type AppConfig,
  type AppServer,
  appDirOf,
  ensureAppBuilt,
  livekitConfigured,
  serveApp,
} from "./app.ts";
import type { RunningStack } from "./index.ts";
import { loadOrCreateKeys, type StackKeys } from "./keys.ts";
import { applyMigrations, applyPlatform, migrationsPending } from "./migrate.ts";
import { type PostgresServer, startEmbeddedPostgres } from "./postgres.ts";
import { findProjectDir, loadProject, type Project } from "./project.ts";

/** The Supabase CLI's API port (`[api] port`); the same as `DEFAULT_API_PORT` in index.ts. */
const DEFAULT_API_PORT = 54321;
/** The Supabase CLI's database port (`[db] port`). */
export const DEFAULT_DB_PORT = 54322;
const HOST = "127.0.0.1";
const NAME = "roomkit-stack";
/** Output formats of `status -o`, as `supabase status -o` names them. */
const STATUS_FORMATS = ["pretty", "env", "json"] as const;

/** What `start` leaves in the state directory while it runs; `status` reads it. */
export interface StatusFile {
  pid: number;
  startedAt: string;
  apiUrl: string;
  dbUrl: string;
  keys: Pick<StackKeys, "jwtSecret" | "anonKey" | "serviceRoleKey" | "publishableKey" | "secretKey">;
  functions: boolean;
  /** The project's web app (`app/`), when it is served. */
  appUrl?: string;
  /** The local inbox (absent when `[local_smtp] enabled = false`). */
  inboxUrl?: string;
}

/** `.roomkit/` in the project folder, or `ROOMKIT_STATE_DIR` (tests and benches use throwaway ones). */
export function stateDir(projectDir: string): string {
  return process.env.ROOMKIT_STATE_DIR || join(projectDir, ".roomkit");
}

function statusPath(dir: string): string {
  return join(dir, "status.json");
}

/**
 * The values `supabase status -o env` prints, under the same names (CLI `internal/status/status.go`).
 * The inbox goes under both of the CLI's names (`MAILPIT_URL`, and the deprecated `INBUCKET_URL`).
 * GraphQL, Studio and Storage do not exist here, so their names are absent.
 */
export function statusValues(status: StatusFile): Record<string, string> {
  const values: Record<string, string> = {
    API_URL: status.apiUrl,
    REST_URL: `${status.apiUrl}/rest/v1`,
    DB_URL: status.dbUrl,
    PUBLISHABLE_KEY: status.keys.publishableKey,
    SECRET_KEY: status.keys.secretKey,
    JWT_SECRET: status.keys.jwtSecret,
    ANON_KEY: status.keys.anonKey,
    SERVICE_ROLE_KEY: status.keys.serviceRoleKey,
  };
  if (status.functions) values.FUNCTIONS_URL = `${status.apiUrl}/functions/v1`;
  if (status.appUrl) values.APP_URL = status.appUrl;
  if (status.inboxUrl) {
    values.MAILPIT_URL = status.inboxUrl;
    values.INBUCKET_URL = status.inboxUrl;
  }
  return values;
}

/** `KEY="value"` lines, sorted by key, as the CLI's env encoder writes them. */
export function formatEnv(values: Record<string, string>): string {
  return Object.keys(values)
    .sort()
    .map((k) => `${k}=${JSON.stringify(values[k])}`)
    .join("\n");
}

/** The human status block, like `supabase status`. */
export function formatPretty(status: StatusFile): string {
  const realtime = status.apiUrl.replace(/^http/, "ws");
  const rows: [string, string][] = [
    ...(status.appUrl ? [["App URL", status.appUrl] as [string, string]] : []),
    ["API URL", status.apiUrl],
    ["REST URL", `${status.apiUrl}/rest/v1`],
    ["Realtime URL", `${realtime}/realtime/v1`],
    ...(status.functions ? [["Functions URL", `${status.apiUrl}/functions/v1`] as [string, string]] : []),
    ["DB URL", status.dbUrl],
    ...(status.inboxUrl ? [["Inbox URL", status.inboxUrl] as [string, string]] : []),
    ["JWT secret", status.keys.jwtSecret],
    ["Publishable key", status.keys.publishableKey],
    ["Secret key", status.keys.secretKey],
    ["anon key", status.keys.anonKey],
    ["service_role key", status.keys.serviceRoleKey],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    "Roomkit local stack is running. LOCAL DEVELOPMENT ONLY: these keys are generated for this machine;",
    "never use them in production.",
    "",
    ...rows.map(([label, value]) => `${label.padStart(width)}: ${value}`),
  ].join("\n");
}

/** One line for a failure: the first line of the cause, without stack noise. */
function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = message
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length <= 1 ? (lines[0] ?? "unknown error") : `${lines[0]} (${lines.slice(1).join(" | ")})`;
}

/** A failure whose message is the one line the CLI prints, naming the cause and the fix. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** How long stopping may wait for the surfaces before Postgres is stopped anyway. */
const STOP_SURFACES_TIMEOUT_MS = 3_000;

async function withTimeout<T>(promise: Promise<T> | undefined, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** Whether a process with this pid exists (one of another user's counts). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new CliError(`${name} must be a port number, got "${value}"`, 2);
  return n;
}

/** The project folder: `--workdir`, else the nearest folder at or above the working directory with `supabase/`. */
function projectFrom(workdir: string | undefined): Project {
  const dir = workdir !== undefined ? resolve(workdir) : findProjectDir();
  if (dir === undefined || !existsSync(join(dir, "supabase"))) {
    throw new CliError(
      `no supabase/ folder in ${workdir ?? process.cwd()}${workdir ? "" : " or above"}: run in a Supabase project (\`supabase init\` creates one) or pass --workdir <folder>`,
    );
  }
  try {
    return loadProject(dir);
  } catch (error) {
    throw new CliError(oneLine(error));
  }
}

/**
 * The postmaster a data folder's `postmaster.pid` names, if that process still runs. Postgres
 * writes the pid on the file's first line; on Linux /proc confirms it is a postgres process.
 */
function runningPostmaster(dataDir: string): number | undefined {
  const file = join(dataDir, "postmaster.pid");
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
  if (!(pid > 0) || !alive(pid)) return undefined;
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline) && !readFileSync(cmdline, "utf8").includes("postgres")) return undefined;
  return pid;
}

/** The pid of a stack that is running on this state folder, if any. */
function runningStack(dir: string): number | undefined {
  try {
    const status = JSON.parse(readFileSync(statusPath(dir), "utf8")) as StatusFile;
    return status.pid !== process.pid && alive(status.pid) ? status.pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitUntilGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

/**
 * A Postgres left running on the data folder by an earlier start that could not stop it (the
 * process was killed with SIGKILL, or crashed): stopped, so this start can use the folder.
 * A data folder in use by a stack that still runs is a clear error instead.
 */
async function reclaimDataDir(dir: string, dataDir: string): Promise<void> {
  const stackPid = runningStack(dir);
  if (stackPid !== undefined) {
    throw new CliError(
      `the stack is already running for this project (pid ${stackPid}); \`${NAME} status\` shows it, Ctrl-C in its terminal (or \`kill ${stackPid}\`) stops it`,
    );
  }
  const pid = runningPostmaster(dataDir);
  if (pid === undefined) return;
  console.log(`${NAME}: stopping Postgres (pid ${pid}) left running on ${dataDir} by an earlier start…`);
  try {
    process.kill(pid, "SIGINT");
  } catch (error) {
    throw new CliError(
      `Postgres (pid ${pid}) still holds ${dataDir} and cannot be stopped from here (${(error as Error).message}): stop it with \`kill ${pid}\``,
    );
  }
  if (!(await waitUntilGone(pid, 10_000))) {
    process.kill(pid, "SIGQUIT");
    if (!(await waitUntilGone(pid, 5_000)))
      throw new CliError(`Postgres (pid ${pid}) did not stop: stop it with \`kill -9 ${pid}\``);
  }
}

/**
 * npm 11 reads `npm start --port 5000` (without `--`) as its own `--port` flag: the script gets
 * `npm_config_port=true` and a stray `5000`. Say how to pass it instead of using the default port.
 */
function refuseNpmSwallowedFlags(extra: string[]): void {
  const swallowed = ["port", "db_port", "inbox_port", "workdir"].filter(
    (k) => process.env[`npm_config_${k}`] === "true",
  );
  if (swallowed.length > 0) {
    const flags = swallowed.map((k) => `--${k.replace("_", "-")}`).join(", ");
    throw new CliError(
      `npm took ${flags} for itself: put -- before the stack's options, e.g. \`npm start -- --port 54321\``,
      2,
    );
  }
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"\n${USAGE}`, 2);
}

/**
 * While the stack runs, failures print one line each: postgres.js reports a lost replication stream
 * with a full stack trace (`subscribe.js`), and a rejection nobody awaited must not end the stack.
 * ROOMKIT_VERBOSE=1 keeps the full output.
 */
function keepOutputReadable(verbose: boolean): void {
  process.on("unhandledRejection", (reason) => {
    console.error(`${NAME}: ${verbose && reason instanceof Error ? reason.stack : oneLine(reason)}`);
  });
  if (verbose) return;
  const consoleError = console.error.bind(console);
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].startsWith("Unexpected error during logical streaming")) {
      consoleError(`[realtime] replication stream lost (${oneLine(args[1])}); reconnecting`);
      return;
    }
    consoleError(...args);
  };
}

/** Restarts of an embedded Postgres that died, spaced out while it keeps dying. */
const PG_RESTART_DELAYS_MS = [500, 1_000, 2_000, 5_000];

async function start(values: {
  port?: string;
  "db-port"?: string;
  "app-port"?: string;
  "inbox-port"?: string;
  workdir?: string;
}): Promise<void> {
  const apiPort = intOption(values.port ?? process.env.ROOMKIT_API_PORT, "--port") ?? DEFAULT_API_PORT;
  const appPortOption = intOption(values["app-port"] ?? process.env.ROOMKIT_APP_PORT, "--app-port");
  const externalDb = process.env.ROOMKIT_DB_URL;
  const dbPort = intOption(values["db-port"] ?? process.env.ROOMKIT_DB_PORT, "--db-port") ?? DEFAULT_DB_PORT;
  const verbose = process.env.ROOMKIT_VERBOSE === "1";
  const project = projectFrom(values.workdir);
  const dir = stateDir(project.dir);
  const dataDir = join(dir, "db");
  const inboxPort =
    intOption(values["inbox-port"] ?? process.env.ROOMKIT_INBOX_PORT, "--inbox-port") ??
    project.config.inbox.port;

  // Checked before Postgres starts so a second start says why at once and touches nothing.
  if (!(await portFree(apiPort, HOST))) {
    const other = runningStack(dir);
    throw new CliError(
      `API port ${apiPort} on ${HOST} is already in use (${other ? `the stack is running, pid ${other}: \`${NAME} status\` shows it` : "use --port or ROOMKIT_API_PORT"})`,
    );
  }
  if (project.config.inbox.enabled && !(await portFree(inboxPort, HOST))) {
    throw new CliError(
      `inbox port ${inboxPort} on ${HOST} is already in use (set [local_smtp] port, or use --inbox-port or ROOMKIT_INBOX_PORT)`,
    );
  }
  if (!externalDb) {
    await reclaimDataDir(dir, dataDir);
    if (!(await portFree(dbPort, HOST))) {
      throw new CliError(
        `database port ${dbPort} on ${HOST} is already in use by another program (use --db-port or ROOMKIT_DB_PORT)`,
      );
    }
  }

  await mkdir(dir, { recursive: true });
  keepOutputReadable(verbose);
  let pg: PostgresServer | undefined;
  let stack: RunningStack | undefined;
  let app: AppServer | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (code: number) => {
    stopping ??= (async () => {
      rmSync(statusPath(dir), { force: true });
      // Surfaces first (the functions worker is a child process, pools close cleanly), but never
      // for long: with Postgres gone, pools may wait on connections that will not come back.
      await app?.close();
      await withTimeout(stack?.close(), STOP_SURFACES_TIMEOUT_MS).catch((e: unknown) =>
        console.error(`${NAME}: stopping the stack: ${oneLine(e)}`),
      );
      await pg?.stop().catch((e: unknown) => console.error(`${NAME}: stopping Postgres: ${oneLine(e)}`));
      process.exit(code);
    })();
    return stopping;
  };
  // Every signal that ends a terminal session ends the stack, Postgres included: Ctrl-C (SIGINT),
  // `kill` (SIGTERM), a closed terminal (SIGHUP). Postgres runs in its own process group, so only
  // this handler stops it, after the surfaces. A second signal stops Postgres at once and exits.
  let signals = 0;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => {
      signals += 1;
      if (signals > 1) {
        if (pg) {
          try {
            process.kill(pg.pid, "SIGQUIT");
          } catch {}
        }
        process.exit(130);
      }
      if (signal !== "SIGHUP") console.log(`\n${NAME}: ${signal}, stopping…`);
      void stop(0);
    });
  }

  // A web app in app/ (Roomkit's reference app) builds, only when its sources changed, while Postgres starts.
  const appDir = appDirOf(project.dir);
  const appBuild = appDir
    ? ensureAppBuilt(appDir).then(
        (outcome) => ({ outcome, error: undefined }),
        (error: unknown) => ({ outcome: undefined, error }),
      )
    : undefined;
  // The stack's modules load while Postgres starts (a second or more of a warm start otherwise).
  const stackModule = import("./index.ts");
  stackModule.catch(() => {});
  const t0 = performance.now();
  const phase = (name: string) => {
    if (verbose) console.log(`[${NAME}] ${name} at ${Math.round(performance.now() - t0)} ms`);
  };
  const startPostgres = async (): Promise<PostgresServer> => {
    try {
      return await startEmbeddedPostgres({
        dataDir,
        port: dbPort,
        onLog: verbose ? (line) => console.log(`[postgres] ${line}`) : undefined,
      });
    } catch (error) {
      throw new CliError(
        `Postgres did not start on port ${dbPort} with data in ${dataDir}: ${oneLine(error)}`,
      );
    }
  };
  // An embedded Postgres that dies (killed, out of memory) is started again; meanwhile the
  // surfaces answer 503 and reconnect on their own once it is back.
  const watch = (server: PostgresServer, attempt = 0): void => {
    void server.exited.then(async () => {
      if (stopping) return;
      const delay = PG_RESTART_DELAYS_MS[Math.min(attempt, PG_RESTART_DELAYS_MS.length - 1)]!;
      console.error(`${NAME}: Postgres exited unexpectedly; starting it again in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
      if (stopping) return;
      try {
        pg = await startPostgres();
        console.error(`${NAME}: Postgres is back`);
        watch(pg, 0);
      } catch (error) {
        console.error(`${NAME}: ${oneLine(error)}`);
        watch(server, attempt + 1);
      }
    });
  };
  try {
    let dbUrl: string;
    if (externalDb) {
      dbUrl = externalDb;
    } else {
      pg = await startPostgres();
      watch(pg);
      dbUrl = pg.url;
      phase("postgres ready");
    }
    try {
      await applyPlatform(dbUrl);
      if (await migrationsPending(dbUrl, project)) {
        console.log(`${NAME}: applying migrations and seed (supabase db push)…`);
        await applyMigrations(dbUrl, { projectDir: project.dir, seed: project.config.seed.enabled });
      }
    } catch (error) {
      throw new CliError(`database preparation failed: ${oneLine(error)}`);
    }
    phase("database prepared");
    const keys = await loadOrCreateKeys(join(dir, "keys.json"));
    const { startStack } = await stackModule;
    phase("stack modules loaded");
    stack = await startStack({
      dbUrl,
      keys,
      port: apiPort,
      inboxPort,
      host: HOST,
      projectDir: project.dir,
      waitForFunctions: false,
      // Links in mails and pushes point at the app (on the port it asks for; a busy one is reported below).
      ...(appDir ? { appUrl: `http://${HOST}:${appPortOption ?? apiPort + APP_PORT_OFFSET}` } : {}),
      ...(process.env.ROOMKIT_DENO_DIR ? {} : { denoDir: join(dir, "deno") }),
      log: (source, line) => {
        if (verbose || !QUIET_SOURCES.has(source)) process.stdout.write(`[${source}] ${line}\n`);
      },
    });
    phase("stack serving");
    if (appDir && appBuild) {
      app = await startApp(
        appDir,
        await appBuild,
        appPortOption ?? apiPort + APP_PORT_OFFSET,
        appPortOption !== undefined,
        {
          supabaseUrl: stack.apiUrl,
          supabaseKey: keys.publishableKey,
          voice: livekitConfigured(project.dir),
        },
      );
      phase("app serving");
    }
    const status: StatusFile = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      apiUrl: stack.apiUrl,
      dbUrl,
      keys,
      functions: true,
      ...(app ? { appUrl: app.url } : {}),
      ...(stack.inboxUrl ? { inboxUrl: stack.inboxUrl } : {}),
    };
    await writeFile(statusPath(dir), `${JSON.stringify(status, null, 2)}\n`, { mode: 0o600 });
    const where = relative(process.cwd(), project.dir) || ".";
    console.log(`\n${formatPretty(status)}\n\nServing the project in ${where}. Ctrl-C stops everything.\n`);
  } catch (error) {
    console.error(`${NAME}: cannot start: ${oneLine(error)}`);
    await stop(1);
  }
}

/** The app's default port is the API port + 2: 54323, Studio's port under the Supabase CLI. */
const APP_PORT_OFFSET = 2;

/**
 * Serves the built web app. A failed build or a taken default port costs the app, never the
 * stack: one line says why (an explicitly requested port that is taken is an error, though).
 */
async function startApp(
  appDir: string,
  built: { outcome: "current" | "built" | undefined; error: unknown },
  port: number,
  explicitPort: boolean,
  config: AppConfig,
): Promise<AppServer | undefined> {
  if (built.error !== undefined) {
    console.error(
      `${NAME}: the web app did not build, serving the stack without it: ${oneLine(built.error)}`,
    );
    return undefined;
  }
  if (built.outcome === "built")
    console.log(`${NAME}: built the web app (app/dist was missing or older than its sources)`);
  try {
    return await serveApp({ appDir, port, host: HOST, config });
  } catch (error) {
    if (explicitPort) throw new CliError(`app port ${port} on ${HOST}: ${oneLine(error)}`);
    return serveApp({ appDir, port: 0, host: HOST, config });
  }
}

/** Log sources that are noise unless ROOMKIT_VERBOSE=1 (background jobs that find nothing to do). */
const QUIET_SOURCES: ReadonlySet<string> = new Set(["ai-dispatch"]);

async function readStatus(dir: string): Promise<StatusFile | undefined> {
  if (!existsSync(statusPath(dir))) return undefined;
  const status = JSON.parse(await readFile(statusPath(dir), "utf8")) as StatusFile;
  if (!alive(status.pid)) return undefined;
  try {
    const res = await fetch(`${status.apiUrl}/auth/v1/health`, {
      headers: { apikey: status.keys.anonKey },
      signal: AbortSignal.timeout(2000),
    });
    return res.ok ? status : undefined;
  } catch {
    return undefined;
  }
}

async function status(values: { output?: string; workdir?: string }): Promise<void> {
  const output = values.output ?? "pretty";
  if (!(STATUS_FORMATS as readonly string[]).includes(output)) {
    throw new CliError(`-o must be one of ${STATUS_FORMATS.join(", ")}, got "${output}"`, 2);
  }
  const project = projectFrom(values.workdir);
  const current = await readStatus(stateDir(project.dir));
  if (!current) throw new CliError(`the local stack is not running (start it with \`${NAME} start\`)`);
  if (output === "env") console.log(formatEnv(statusValues(current)));
  else if (output === "json") console.log(JSON.stringify(statusValues(current), null, 2));
  else console.log(formatPretty(current));
}

const USAGE = `Usage (in a folder with supabase/, or with --workdir):
  ${NAME} start [--port 54321] [--db-port 54322] [--inbox-port 54324] [--app-port 54323]
                                                  start Postgres, Auth, REST, Realtime, Functions, the inbox,
                                                  and the project's web app (app/ with a vite.config.ts) if any
  ${NAME} status [-o pretty|env|json]             show URLs and keys of the running stack
In the Roomkit repository: npm start [-- --port …], npm run status [-- -o env].

Environment: ROOMKIT_API_PORT, ROOMKIT_DB_PORT, ROOMKIT_INBOX_PORT, ROOMKIT_APP_PORT, ROOMKIT_DB_URL (external Postgres),
ROOMKIT_STATE_DIR (default <project>/.roomkit/), ROOMKIT_DENO_DIR, ROOMKIT_VERBOSE=1 (all logs).`;

async function main(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n${USAGE}`, 2);
  }
  const { positionals, values } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  refuseNpmSwallowedFlags(positionals.slice(1));
  if (command === "start") return start(values);
  if (command === "status") return status(values);
  throw new CliError(`unknown command "${command}"\n${USAGE}`, 2);
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: "string" },
      "db-port": { type: "string" },
      "app-port": { type: "string" },
      "inbox-port": { type: "string" },
      workdir: { type: "string" },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/**
 * Runs the CLI with `argv` (without `node` and the script).
 *
 * @example
 * await runCli(["status", "-o", "env"]);
 */
export async function runCli(argv: string[]): Promise<void> {
  try {
    await main(argv);
  } catch (error) {
    console.error(`${NAME}: ${error instanceof CliError ? error.message : oneLine(error)}`);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  }
}

const isEntryPoint = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntryPoint) void runCli(process.argv.slice(2));
