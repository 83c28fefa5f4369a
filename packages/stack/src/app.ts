import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo, Socket } from "node:net";
import { dirname, extname, join, normalize, sep } from "node:path";

/**
 * A project's web app (`app/` with a `vite.config.ts`, as in Roomkit's repository): built with
 * Vite when its build is missing or older than its sources, then served as static files next to
 * a `config.json` that points the app at this stack. The app is a separate origin from the API,
 * as a deployed frontend would be (the gateway answers CORS). Projects without one get none.
 */

/**
 * Written after a successful build; its mtime is the build's age, and it starts with STAMP_KIND
 * (a build stamped otherwise, or not at all, is rebuilt).
 */
const STAMP_NAME = ".roomkit-build";
const STAMP_KIND = "production";
/** What the bundle is made of besides `app/` (when they exist): a client library, shared code, the lock file. */
const EXTRA_SOURCES = [join("src", "client"), join("functions", "_shared"), "package-lock.json"];

/** The project's app folder, or undefined when it has no Vite app there. */
export function appDirOf(projectDir: string): string | undefined {
  const dir = join(projectDir, "app");
  return existsSync(join(dir, "vite.config.ts")) ? dir : undefined;
}
const SKIP_DIRS = new Set(["dist", "node_modules"]);

/** What the app reads from `config.json` (app/src/config.ts). */
export interface AppConfig {
  supabaseUrl: string;
  supabaseKey: string;
  voice: boolean;
  /** Coworking heartbeat in ms (absent: the client's default); for a shortened participant timeout. */
  heartbeatMs?: number;
}

async function newestMtime(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  // Files only: app/'s own mtime changes whenever a build swaps app/dist in.
  let newest = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory() && SKIP_DIRS.has(entry.name)) continue;
    newest = Math.max(newest, await newestMtime(join(path, entry.name)));
  }
  return newest;
}

/** True when `app/dist` is missing or older than anything it is built from. */
export async function appBuildStale(appDir: string): Promise<boolean> {
  const dist = join(appDir, "dist");
  const stamp = join(dist, STAMP_NAME);
  const built = await stat(stamp).catch(() => undefined);
  if (!built || !existsSync(join(dist, "index.html"))) return true;
  if (!(await readFile(stamp, "utf8")).startsWith(`${STAMP_KIND} `)) return true;
  const project = dirname(appDir);
  const sources = await Promise.all([appDir, ...EXTRA_SOURCES.map((p) => join(project, p))].map(newestMtime));
  return Math.max(...sources) > built.mtimeMs;
}

/**
 * Builds `app/` with Vite unless its build is current (a cold build takes 1–2 s; a current one
 * costs a directory walk). The build goes to a folder of its own and replaces `app/dist` when
 * complete, so a server reading `app/dist` (or a second build running at the same time, as in
 * tests) never sees half of one.
 *
 * Vite runs as its own process with `NODE_ENV=production`: Vite takes production or development
 * from the process's NODE_ENV, and a caller's (Vitest sets `test`) made a build with React's
 * development bundle, larger and far slower to render. Vite is a dev dependency, resolved only
 * when a build is needed.
 *
 * @example
 * if ((await ensureAppBuilt(appDir)) === "built") console.log("app built");
 */
export async function ensureAppBuilt(appDir: string): Promise<"current" | "built"> {
  if (!(await appBuildStale(appDir))) return "current";
  const dist = join(appDir, "dist");
  const suffix = `${process.pid}-${Date.now()}`;
  const outDir = `${dist}.building-${suffix}`;
  const old = `${dist}.old-${suffix}`;
  try {
    await viteBuild(appDir, outDir);
    await writeFile(join(outDir, STAMP_NAME), `${STAMP_KIND} ${new Date().toISOString()}\n`);
    await rename(dist, old).catch(() => {});
    // Another build may have put its (equally fresh) result in place meanwhile: keep that one.
    await rename(outDir, dist).catch(() => {});
  } finally {
    await rm(outDir, { recursive: true, force: true });
    await rm(old, { recursive: true, force: true });
  }
  return "built";
}

/** `NODE_ENV=production vite build` of `appDir` into `outDir`; rejects with Vite's output. */
function viteBuild(appDir: string, outDir: string): Promise<void> {
  const vite = join(dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin", "vite.js");
  const args = [vite, "build", appDir, "--config", join(appDir, "vite.config.ts")];
  args.push("--outDir", outDir, "--emptyOutDir", "--logLevel", "error");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: appDir,
      env: { ...process.env, NODE_ENV: "production" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (d: Buffer) => {
      output += d;
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(`vite build of ${appDir} failed (${signal ?? `exit ${code}`}):\n${output.trimEnd()}`),
        );
    });
  });
}

/**
 * Whether the functions get LiveKit settings (`LIVEKIT_URL` in the environment or in
 * `supabase/functions/.env`); without them the app says voice is not configured instead of
 * dialling the `livekit-server --dev` defaults.
 */
export function livekitConfigured(
  projectDir: string,
  env: Record<string, string | undefined> = process.env,
): boolean {
  if (env.LIVEKIT_URL) return true;
  const file = join(projectDir, "supabase", "functions", ".env");
  if (!existsSync(file)) return false;
  return /^\s*LIVEKIT_URL\s*=\s*\S/m.test(readFileSync(file, "utf8"));
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

export interface AppServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the built app on `host:port` (0 picks a free port), with `config.json` from `config`.
 * Unknown paths get `index.html` (the app routes by hash, so this only matters for typed URLs).
 *
 * @example
 * const app = await serveApp({ appDir, port: 0, config: { supabaseUrl: stack.apiUrl, supabaseKey, voice: false } });
 */
export async function serveApp(options: {
  appDir: string;
  port: number;
  host?: string;
  config: AppConfig;
}): Promise<AppServer> {
  const dist = join(options.appDir, "dist");
  const host = options.host ?? "127.0.0.1";
  const config = JSON.stringify(options.config);
  const sockets = new Set<Socket>();

  const send = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://app").pathname);
    if (path === "/config.json") {
      res.writeHead(200, { "content-type": CONTENT_TYPES[".json"]!, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : config);
      return;
    }
    let file = normalize(join(dist, path));
    if (!file.startsWith(dist + sep) && file !== dist) {
      res.writeHead(404).end();
      return;
    }
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) file = join(dist, "index.html");
    const body = await readFile(file);
    // Hashed assets never change; index.html must be re-read to pick up a new build.
    const cache = file.includes(`${sep}assets${sep}`) ? "public, max-age=31536000, immutable" : "no-cache";
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
      "content-length": body.length,
      "cache-control": cache,
      "x-content-type-options": "nosniff",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };

  const server = createServer((req, res) => {
    send(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
