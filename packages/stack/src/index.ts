import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createAuthSurface } from "./auth/index.ts";
import { type AuthConfig, ConfigError } from "./config.ts";
import { createFunctionsSurface } from "./functions/index.ts";
import { createGatewayHandler, createUpgradeHandler, type GatewaySurfaces } from "./gateway.ts";
import { Inbox, type InboxServer, serveInbox } from "./inbox.ts";
import { startJobs } from "./jobs/index.ts";
import type { StackKeys } from "./keys.ts";
import { findProjectDir, loadProject, type Project } from "./project.ts";
import { createRealtimeSurface } from "./realtime/index.ts";
import { createRestSurface } from "./rest/index.ts";
import type { StackContext, Surface } from "./surface.ts";

/** Options of one running local stack. */
export interface StackOptions {
  /** Database the stack serves (already prepared: platform, migrations, seed). */
  dbUrl: string;
  /** Gateway port (API URL). Default 54321; 0 picks a free one. */
  port?: number;
  /** Interface the gateway listens on. Default `127.0.0.1`. */
  host?: string;
  keys: StackKeys;
  /** Algorithm of user access tokens. Default HS256, as `supabase start`. */
  userTokenAlg?: "HS256" | "ES256";
  /** Allow `signInAnonymously()`. Default: `[auth] enable_anonymous_sign_ins`. */
  anonymousSignIns?: boolean;
  /** Allow new users to sign up. Default: `[auth] enable_signup`. */
  enableSignup?: boolean;
  /** Lifetime of user access tokens in seconds. Default: `[auth] jwt_expiry` (3600). */
  accessTokenTtlSeconds?: number;
  /** Grace period in seconds in which a rotated refresh token may be used again. Default: `[auth] refresh_token_reuse_interval` (10). */
  refreshTokenReuseIntervalSeconds?: number;
  /** Detect reuse of rotated refresh tokens. Default: `[auth] enable_refresh_token_rotation` (true). */
  refreshTokenRotation?: boolean;
  /**
   * bcrypt cost of the password hashes Auth writes. Default 10, GoTrue's; the test suites pass 4,
   * the lowest bcrypt allows (a hash then takes about 2 ms instead of 80 ms of one core's time).
   * Hashes of any cost verify.
   */
  passwordHashCost?: number;
  /** Realtime: delay before the client may retry a failed join (ms). Default as Supabase; 0 in tests. */
  realtimeErrorBackoffMs?: number;
  /** Realtime: presence calls allowed per client per window. Default 5 per 30 s. */
  presenceRateLimit?: { calls: number; windowMs: number };
  /** Start the Deno functions worker. Default true. */
  functions?: boolean;
  /**
   * Resolve only once the functions worker is up. Default true. `npm start` passes false: the
   * gateway serves auth, REST and realtime at once and holds functions requests until the
   * worker has booted (about a second of Deno start-up off the ready time).
   */
  waitForFunctions?: boolean;
  /** Interval of the scheduled `sweep` call (ms): participant expiry and voice evictions. Default 10 000. */
  sweepIntervalMs?: number;
  /** Interval of the scheduled `notify` call (ms): delayed mentions and AI replies, retries. Default 10 000. */
  notifyIntervalMs?: number;
  /**
   * Where the project's web app is served: functions get it as `ROOMKIT_APP_URL` (links in mails
   * and pushes) unless the env file or `functionsEnv` sets it.
   */
  appUrl?: string;
  /** Extra environment for functions (secrets), on top of the file `supabase/functions/.env`. */
  functionsEnv?: Record<string, string>;
  /** Log sink; default writes prefixed lines to stdout. */
  log?: (source: string, line: string) => void;
  /**
   * The Supabase project folder (the one holding `supabase/`): its `config.toml` configures the
   * surfaces (`[api]`, `[auth]`, `[functions.*]`), its functions are served. Default: the nearest
   * folder at or above the working directory that has `supabase/`.
   */
  projectDir?: string;
  /** Read `config.toml` from here instead of `<projectDir>/supabase/config.toml` (a missing file means the CLI's defaults). */
  configPath?: string;
  /**
   * Port of the local inbox's page and API. Default 0, a free one, so that stacks started side by
   * side (tests, benches) do not collide; the `roomkit-stack` bin passes `[local_smtp] port`
   * (54324), as the CLI does. With `[local_smtp] enabled = false` mails are kept but not served.
   */
  inboxPort?: number;
  /** Deno's cache for the functions worker. Default `ROOMKIT_DENO_DIR`, else `<projectDir>/.roomkit/deno`. */
  denoDir?: string;
}

export interface RunningStack {
  /** The one URL every client uses, e.g. `http://127.0.0.1:54321`. */
  apiUrl: string;
  dbUrl: string;
  keys: StackKeys;
  /** The local inbox (Mailpit's place), e.g. `http://127.0.0.1:54324`; absent when `[local_smtp]` is disabled. */
  inboxUrl: string | undefined;
  /** Closes every surface (functions worker included), open sockets and the HTTP server. */
  close(): Promise<void>;
}

/** The Supabase CLI's API port (`[api] port`). */
export const DEFAULT_API_PORT = 54321;
const DEFAULT_HOST = "127.0.0.1";

/** How long one surface may take to close before the stack stops waiting for it. */
const SURFACE_CLOSE_TIMEOUT_MS = 2_000;

async function closeWithin(surface: Surface, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`a surface did not close within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    await Promise.race([surface.close(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A start-up failure with one line that names the cause (the CLI prints just this). */
export class StackStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StackStartError";
  }
}

function oneLineOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

/** The project; a config value the stack cannot use stops the start with the key's name. */
function openProject(options: StackOptions): Project {
  const dir = options.projectDir ?? findProjectDir() ?? process.cwd();
  try {
    return loadProject(dir, options.configPath);
  } catch (error) {
    if (error instanceof ConfigError) throw new StackStartError(error.message, { cause: error });
    throw error;
  }
}

/** `[auth]` of the project with the explicit options on top. */
function authSettings(project: Project, options: StackOptions): AuthConfig {
  const auth = project.config.auth;
  return {
    ...auth,
    jwtExpiry: options.accessTokenTtlSeconds ?? auth.jwtExpiry,
    enableSignup: options.enableSignup ?? auth.enableSignup,
    enableAnonymousSignIns: options.anonymousSignIns ?? auth.enableAnonymousSignIns,
    enableRefreshTokenRotation: options.refreshTokenRotation ?? auth.enableRefreshTokenRotation,
    refreshTokenReuseInterval: options.refreshTokenReuseIntervalSeconds ?? auth.refreshTokenReuseInterval,
  };
}

function defaultLog(source: string, line: string): void {
  process.stdout.write(`[${source}] ${line}\n`);
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      if (error.code === "EADDRINUSE")
        reject(new StackStartError(`API port ${port} on ${host} is already in use`));
      else
        reject(new StackStartError(`cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    };
    const onListening = () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

/**
 * Starts the gateway and every surface over a prepared database: one URL that unmodified
 * supabase-js talks to (`/auth/v1`, `/rest/v1`, `/realtime/v1`, `/functions/v1`).
 *
 * @example
 * const stack = await startStack({ dbUrl, keys: await generateKeys(), port: 0 });
 * const supabase = createClient(stack.apiUrl, stack.keys.anonKey);
 * await stack.close();
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const log = options.log ?? defaultLog;
  const project = openProject(options);
  const host = options.host ?? DEFAULT_HOST;
  const sockets = new Set<Socket>();
  let resolveSurfaces: (s: GatewaySurfaces) => void = () => {};
  let rejectSurfaces: (e: unknown) => void = () => {};
  const surfacesReady = new Promise<GatewaySurfaces>((resolve, reject) => {
    resolveSurfaces = resolve;
    rejectSurfaces = reject;
  });
  surfacesReady.catch(() => {});
  const surfaces = () => surfacesReady;

  // Listen first: Auth needs the real API URL (its token issuer) before it exists.
  const server = createServer(createGatewayHandler({ keys: options.keys, surfaces, log }));
  server.on("upgrade", createUpgradeHandler({ keys: options.keys, surfaces, log }));
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
  });
  const port = await listen(server, options.port ?? DEFAULT_API_PORT, host);
  const publicHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const apiUrl = `http://${publicHost.includes(":") ? `[${publicHost}]` : publicHost}:${port}`;

  const closeServer = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  };

  const inbox = new Inbox();
  let inboxServer: InboxServer | undefined;
  if (project.config.inbox.enabled) {
    const inboxPort = options.inboxPort ?? 0;
    try {
      inboxServer = await serveInbox(inbox, { port: inboxPort, host });
    } catch (error) {
      await closeServer();
      const code = (error as NodeJS.ErrnoException).code;
      throw new StackStartError(
        code === "EADDRINUSE"
          ? `inbox port ${inboxPort} on ${host} is already in use ([local_smtp] port, or --inbox-port)`
          : `cannot serve the inbox on ${host}:${inboxPort}: ${oneLineOf(error)}`,
        { cause: error },
      );
    }
  }
  const closeAll = async () => {
    await inboxServer?.close();
    await closeServer();
  };

  const ctx: StackContext = {
    dbUrl: options.dbUrl,
    apiUrl,
    keys: options.keys,
    userTokenAlg: options.userTokenAlg ?? "HS256",
    project,
    api: project.config.api,
    auth: authSettings(project, options),
    mailer: inbox,
    inboxUrl: inboxServer?.url,
    log,
    options,
  };
  const created: Surface[] = [];
  const create = async (factory: (c: StackContext) => Promise<Surface>): Promise<Surface> => {
    const surface = await factory(ctx);
    created.push(surface);
    return surface;
  };
  const functionsStarting =
    options.functions === false ? Promise.resolve(undefined) : create(createFunctionsSurface);
  try {
    const [auth, rest, realtime] = await Promise.all([
      create(createAuthSurface),
      create(createRestSurface),
      create(createRealtimeSurface),
    ]);
    resolveSurfaces({ auth, rest, realtime, functions: functionsStarting });
    if (options.waitForFunctions !== false) await functionsStarting;
  } catch (error) {
    rejectSurfaces(error);
    await functionsStarting.catch(() => {});
    await Promise.allSettled(created.map((s) => s.close()));
    await closeAll();
    if (error instanceof StackStartError) throw error;
    throw new StackStartError(`a surface failed to start: ${(error as Error).message}`, { cause: error });
  }
  functionsStarting.catch((error: unknown) =>
    log("stack", `functions worker failed to start: ${oneLineOf(error)}`),
  );

  const jobs = await startJobs(ctx);

  let closing: Promise<void> | undefined;
  return {
    apiUrl,
    dbUrl: options.dbUrl,
    keys: options.keys,
    inboxUrl: inboxServer?.url,
    close() {
      closing ??= (async () => {
        await jobs.close();
        await functionsStarting.catch(() => {});
        // Surfaces first, so Realtime can say goodbye on its sockets before they are cut. Each gets
        // a bounded time: with the database gone, a pool can wait for a connection that never comes.
        const results = await Promise.allSettled(
          created.map((s) => closeWithin(s, SURFACE_CLOSE_TIMEOUT_MS)),
        );
        for (const r of results) if (r.status === "rejected") log("stack", `close: ${String(r.reason)}`);
        await closeAll();
      })();
      return closing;
    },
  };
}
