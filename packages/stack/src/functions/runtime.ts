import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { Agent, type IncomingMessage, request, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { FunctionConfig } from "./config.ts";

/** Where the worker script lives (run by Deno, not imported by Node). */
const WORKER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "worker.ts");

/** Answer of the edge runtime when a function died mid-request (reference §11: 500 WORKER_ERROR). */
export const WORKER_ERROR_BODY = {
  code: "WORKER_ERROR",
  message: "Function exited due to an error (please check logs)",
} as const;

/** First start may download npm packages into DENO_DIR; later starts take well under a second. */
const READY_TIMEOUT_MS = 120_000;
/** Restart back-off after the worker dies, doubling up to the max while it keeps dying. */
const RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 5_000;

/** Framing of function log lines on the worker's stderr: `\x1e<name>\x1f<line>` (see worker.ts). */
const LOG_RECORD = "\x1e";
const LOG_FIELD = "\x1f";

/** Headers that belong to one hop and must not be copied through the proxy. */
const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"];

export interface FunctionsRuntimeOptions {
  /** Working directory of the worker (the project folder). */
  cwd: string;
  /** The functions this worker serves; they share one `importMap` (Deno takes one per process). */
  functions: FunctionConfig[];
  /** `deno.json(c)` (`--config`) or import map (`--import-map`) of these functions, if any. */
  importMap?: string;
  /** Exactly the environment the functions see (plus DENO_DIR and friends for Deno itself). */
  env: Record<string, string>;
  /** The `deno` binary. */
  denoBin: string;
  /** Deno's cache (npm packages), kept between starts. */
  denoDir: string;
  /** `source` is `functions` or `functions:<name>`. */
  log(source: string, line: string): void;
}

/** Timing of the latest worker start, for the status output and benchmarks. */
export interface WorkerStats {
  starts: number;
  lastStartMs: number;
}

/** Deno flags that load a function group's `deno.json(c)` or plain import map. */
function importMapArgs(importMap: string | undefined): string[] {
  if (!importMap) return [];
  return /^deno\.jsonc?$/.test(basename(importMap)) ? ["--config", importMap] : ["--import-map", importMap];
}

/**
 * One Deno worker process serving a group of functions, restarted when it dies. It listens on a
 * Unix socket in a folder only this user can enter, so nothing reaches a function except through
 * the gateway's checks (`verify_jwt`); requests are proxied to it and streamed both ways
 * (server-sent events pass through unbuffered).
 *
 * @example
 * const rt = await FunctionsRuntime.start({ cwd, functions, env, denoBin, denoDir, log });
 * rt.proxy(req, res, "/invites?status=pending");
 * await rt.close();
 */
export class FunctionsRuntime {
  private child: ChildProcess | undefined;
  /** Resolves to the worker's socket path once it listens. */
  private port: Promise<string> | undefined;
  /** Private folder (mode 0700) holding the worker's socket. */
  private socketDir = "";
  private closing = false;
  private restartDelay = RESTART_DELAY_MS;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  readonly stats: WorkerStats = { starts: 0, lastStartMs: 0 };

  private constructor(private readonly options: FunctionsRuntimeOptions) {}

  /** The functions this worker serves. */
  get functions(): readonly FunctionConfig[] {
    return this.options.functions;
  }

  /** Starts the worker and resolves once it listens (rejects if it cannot start). */
  static async start(options: FunctionsRuntimeOptions): Promise<FunctionsRuntime> {
    const rt = new FunctionsRuntime(options);
    await mkdir(options.denoDir, { recursive: true });
    // mkdtemp creates the folder with mode 0700: other local users cannot connect to the socket.
    rt.socketDir = await mkdtemp(join(tmpdir(), "roomkit-fn-"));
    await rt.cacheDependencies();
    rt.port = rt.spawnWorker();
    await rt.port;
    return rt;
  }

  /**
   * `deno cache` of every entrypoint before the worker starts: on a fresh DENO_DIR, npm packages
   * fetched lazily by the worker's dynamic imports can fail to cache ("Failed caching npm package");
   * resolving them statically up front does not. With a warm cache this takes ~20 ms.
   */
  private cacheDependencies(): Promise<void> {
    const { cwd, denoBin, denoDir, functions, log, importMap } = this.options;
    const args = ["cache", "--quiet", ...importMapArgs(importMap), ...functions.map((f) => f.entrypoint)];
    if (functions.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const child = spawn(denoBin, args, {
        cwd,
        env: { ...passThroughEnv(), DENO_DIR: denoDir, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const output: string[] = [];
      for (const stream of [child.stdout!, child.stderr!])
        createInterface({ input: stream }).on("line", (line) => output.push(line));
      child.once("error", () => resolve());
      // A function that does not resolve is reported by the worker as its boot error; the others still start.
      child.once("exit", (code) => {
        if (code !== 0) for (const line of output) log("functions", line);
        resolve();
      });
    });
  }

  private spawnWorker(): Promise<string> {
    const { cwd, env, denoBin, denoDir, functions, log, importMap } = this.options;
    const started = Date.now();
    const socket = join(this.socketDir, `worker-${this.stats.starts + 1}.sock`);
    const args = ["run", "--allow-all", "--no-prompt", "--quiet", ...importMapArgs(importMap), WORKER_SCRIPT];
    const child = spawn(denoBin, args, {
      cwd,
      env: {
        ...passThroughEnv(),
        ...env,
        DENO_DIR: denoDir,
        NO_COLOR: "1",
        DENO_NO_UPDATE_CHECK: "1",
        ROOMKIT_FUNCTIONS: JSON.stringify(functions.map((f) => ({ name: f.name, entrypoint: f.entrypoint }))),
        ROOMKIT_FUNCTIONS_SOCKET: socket,
      },
      // stdin stays open and unused: the worker exits when it closes, i.e. when this process dies.
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child = child;
    createInterface({ input: child.stderr! }).on("line", (line) => {
      const sep = line.indexOf(LOG_FIELD);
      if (line.startsWith(LOG_RECORD) && sep > 0) {
        const name = line.slice(1, sep);
        log(name === "runtime" ? "functions" : `functions:${name}`, line.slice(sep + 1));
      } else if (line.trim() !== "") log("functions", line);
    });
    return new Promise<string>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        if (!ready) {
          reject(new Error(`the Deno functions worker did not start within ${READY_TIMEOUT_MS / 1000} s`));
          child.kill("SIGKILL");
        }
      }, READY_TIMEOUT_MS);
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (!ready && line.startsWith('{"ready":')) {
          ready = true;
          clearTimeout(timer);
          this.stats.starts++;
          this.stats.lastStartMs = Date.now() - started;
          log("functions", `worker ready in ${this.stats.lastStartMs} ms`);
          resolve(JSON.parse(line).ready as string);
        } else if (line.trim() !== "") log("functions", line);
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`cannot run ${denoBin}: ${error.message}`));
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        if (!ready) {
          reject(new Error(`the Deno functions worker exited before it was ready (code ${code ?? signal})`));
          return;
        }
        if (this.closing || this.child !== child) return;
        log("functions", `worker exited (${code ?? signal}); restarting`);
        this.restart();
      });
    });
  }

  private restart(): void {
    const delay = this.restartDelay;
    this.restartDelay = Math.min(this.restartDelay * 2, MAX_RESTART_DELAY_MS);
    const next = new Promise<void>((resolve) => setTimeout(resolve, delay)).then(() => {
      if (this.closing) throw new Error("functions runtime closed");
      return this.spawnWorker();
    });
    next.then(
      () => {
        // A worker that stayed up a while resets the back-off.
        setTimeout(() => {
          this.restartDelay = RESTART_DELAY_MS;
        }, 10_000).unref();
      },
      (error: unknown) => {
        if (this.closing) return;
        this.options.log("functions", `worker restart failed: ${(error as Error).message}`);
        this.restart();
      },
    );
    next.catch(() => {});
    this.port = next;
  }

  /**
   * Forwards one request to the worker as `path` (`/<name>/…?…`) and streams the answer back.
   * A worker that dies mid-request gives 500 `WORKER_ERROR`; the next request goes to a new worker.
   */
  async proxy(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    let socketPath: string;
    try {
      socketPath = await this.port!;
    } catch {
      sendWorkerError(res);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.includes(key)) headers[key] = value;
    }
    headers["x-forwarded-proto"] ??= "http";
    if (req.headers.host) headers["x-forwarded-host"] ??= req.headers.host;
    if (req.socket.remoteAddress) headers["x-forwarded-for"] ??= req.socket.remoteAddress;
    await new Promise<void>((resolve) => {
      let answered = false;
      // A function may answer (413, 400) before it has read the whole body and close its side:
      // the rest of the caller's body is then read and dropped, so the caller gets that answer
      // instead of a reset connection.
      const drainRequest = () => {
        req.unpipe(upstream);
        if (!req.readableEnded) req.resume();
      };
      const upstream = request(
        { socketPath, method: req.method, path, headers, agent: this.agent },
        (answer) => {
          answered = true;
          const out: Record<string, string | string[]> = {};
          for (const [key, value] of Object.entries(answer.headers)) {
            if (value !== undefined && !HOP_BY_HOP.includes(key)) out[key] = value;
          }
          res.writeHead(answer.statusCode ?? 502, out);
          answer.pipe(res);
          answer.once("end", () => {
            drainRequest();
            resolve();
          });
          answer.once("error", () => {
            res.destroy();
            resolve();
          });
        },
      );
      upstream.once("error", () => {
        drainRequest();
        // The answer is already streaming: an error writing the request body is not the caller's problem.
        if (answered) return;
        if (!res.headersSent) sendWorkerError(res);
        else res.destroy();
        resolve();
      });
      res.once("close", () => {
        // The caller went away (e.g. aborted an SSE stream): stop the function's response too.
        if (!res.writableFinished) upstream.destroy();
        resolve();
      });
      req.pipe(upstream);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.agent.destroy();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      });
    }
    if (this.socketDir) await rm(this.socketDir, { recursive: true, force: true });
  }
}

function sendWorkerError(res: ServerResponse): void {
  const text = JSON.stringify(WORKER_ERROR_BODY);
  res.writeHead(500, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** What Deno itself may need from our environment (proxies, CA bundles); never Roomkit secrets. */
function passThroughEnv(): Record<string, string> {
  const names = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "NPM_CONFIG_REGISTRY",
    "DENO_CERT",
    "DENO_TLS_CA_STORE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "TMPDIR",
  ];
  const env: Record<string, string> = {};
  for (const name of names) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  // Deno ignores SSL_CERT_FILE for its npm downloads; behind a TLS-inspecting proxy the extra CA
  // bundle must come through DENO_CERT, or the first start cannot fetch packages.
  const bundle = process.env.NODE_EXTRA_CA_CERTS ?? process.env.SSL_CERT_FILE;
  if (env.DENO_CERT === undefined && bundle !== undefined) env.DENO_CERT = bundle;
  return env;
}
