/**
 * The Deno side of the local functions runtime: ONE process that imports every function once and
 * serves them all from one `Deno.serve`, dispatching on the first path segment (`/<name>/…`, as
 * the Supabase gateway passes it). Started by `index.ts` with `deno run`; never imported by Node.
 *
 * Protocol with the parent (Node):
 * - env `ROOMKIT_FUNCTIONS`: JSON `[{ name, entrypoint }]` (absolute paths), and
 *   `ROOMKIT_FUNCTIONS_SOCKET`: the Unix socket to listen on; both removed before any function is
 *   loaded, so functions see only the environment Supabase would give them.
 * - stdout line `{"ready": "<socket path>"}` once listening.
 * - every console line from a function is written to stderr as `\x1e<name>\x1f<line>` so the parent
 *   can prefix it `[functions:<name>]`.
 *
 * Error answers follow the edge runtime (reference §11): unknown function 404 `Function not found`,
 * a function that failed to load 503 `BOOT_ERROR`, an uncaught exception 500 `WORKER_ERROR`.
 */

// Deno's globals, declared locally: this file is type-checked by tsc (Node types), but runs under Deno.
interface DenoServeOptions {
  path: string;
  onListen(addr: { path: string }): void;
}
type Handler = (req: Request, info?: unknown) => Response | Promise<Response>;
declare const Deno: {
  env: { get(name: string): string | undefined; delete(name: string): void };
  serve(options: DenoServeOptions, handler: Handler): unknown;
  serve(handler: Handler): unknown;
  stdout: { writeSync(bytes: Uint8Array): number };
  stderr: { writeSync(bytes: Uint8Array): number };
  stdin: { readable: AsyncIterable<Uint8Array> };
  exit(code: number): never;
};

import { AsyncLocalStorage } from "node:async_hooks";
import { pathToFileURL } from "node:url";
import { format } from "node:util";

interface FunctionSpec {
  name: string;
  entrypoint: string;
}

/** Answers of the edge runtime when a function cannot run. */
const FUNCTION_NOT_FOUND = "Function not found";
const BOOT_ERROR = { code: "BOOT_ERROR", message: "Function failed to start (please check logs)" };
const WORKER_ERROR = { code: "WORKER_ERROR", message: "Function exited due to an error (please check logs)" };

const encoder = new TextEncoder();
const current = new AsyncLocalStorage<string>();

function writeLog(name: string, text: string): void {
  for (const line of text.split("\n")) Deno.stderr.writeSync(encoder.encode(`\x1e${name}\x1f${line}\n`));
}

// Attribute every console line to the function whose request (or import) produced it.
let loading: string | undefined;
for (const level of ["log", "info", "warn", "error", "debug", "trace"] as const) {
  console[level] = (...args: unknown[]) =>
    writeLog(current.getStore() ?? loading ?? "runtime", format(...args));
}

// Supabase's `EdgeRuntime.waitUntil`: keep the promise alive after the response; the process lives on anyway.
const pending = new Set<Promise<unknown>>();
(globalThis as { EdgeRuntime?: unknown }).EdgeRuntime = {
  waitUntil(promise: Promise<unknown>): void {
    const name = current.getStore() ?? "runtime";
    const tracked = Promise.resolve(promise)
      .catch((error: unknown) => writeLog(name, `waitUntil task failed: ${format(error)}`))
      .finally(() => pending.delete(tracked));
    pending.add(tracked);
  },
};

globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  writeLog(current.getStore() ?? "runtime", `unhandled rejection: ${format(event.reason)}`);
});
globalThis.addEventListener("error", (event) => {
  event.preventDefault();
  writeLog(current.getStore() ?? "runtime", `uncaught error: ${format(event.error)}`);
});

const specs = JSON.parse(Deno.env.get("ROOMKIT_FUNCTIONS") ?? "[]") as FunctionSpec[];
const socketPath = Deno.env.get("ROOMKIT_FUNCTIONS_SOCKET") ?? "";
Deno.env.delete("ROOMKIT_FUNCTIONS");
Deno.env.delete("ROOMKIT_FUNCTIONS_SOCKET");

const handlers = new Map<string, Handler | Error>();
const realServe = Deno.serve.bind(Deno);
for (const spec of specs) {
  loading = spec.name;
  let captured: Handler | undefined;
  // Functions written as a bare `Deno.serve(handler)` (no exported handler) are captured here.
  (Deno as { serve: unknown }).serve = (...args: unknown[]) => {
    captured = args.find((a): a is Handler => typeof a === "function");
    return { finished: new Promise(() => {}), shutdown: async () => {}, ref() {}, unref() {} };
  };
  try {
    const mod = (await import(pathToFileURL(spec.entrypoint).href)) as {
      handler?: Handler;
      default?: { fetch?: Handler };
    };
    const handler = mod.handler ?? mod.default?.fetch?.bind(mod.default) ?? captured;
    handlers.set(
      spec.name,
      handler ?? new Error(`${spec.entrypoint} exports no handler and calls no Deno.serve`),
    );
    if (!handler)
      writeLog(spec.name, `boot error: ${spec.entrypoint} exports no handler and calls no Deno.serve`);
  } catch (error) {
    handlers.set(spec.name, error as Error);
    writeLog(spec.name, `boot error: ${format(error)}`);
  }
}
loading = undefined;
(Deno as { serve: unknown }).serve = realServe;

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

async function dispatch(req: Request): Promise<Response> {
  const name = new URL(req.url).pathname.split("/")[1] ?? "";
  const handler = handlers.get(name);
  if (handler === undefined) return new Response(FUNCTION_NOT_FOUND, { status: 404 });
  if (handler instanceof Error) return jsonResponse(503, BOOT_ERROR);
  return current.run(name, async () => {
    try {
      return await handler(req);
    } catch (error) {
      writeLog(name, `uncaught exception: ${format(error)}`);
      return jsonResponse(500, WORKER_ERROR);
    }
  });
}

realServe(
  {
    path: socketPath,
    onListen({ path }) {
      Deno.stdout.writeSync(encoder.encode(`${JSON.stringify({ ready: path })}\n`));
    },
  },
  dispatch,
);

// The stack holds our stdin open for as long as it lives. When it goes, even killed without a
// chance to stop us, stdin ends and so does this worker: no orphaned Deno is left behind.
(async () => {
  for await (const _ of Deno.stdin.readable) {
    // The stack never writes; only the end matters.
  }
  Deno.exit(0);
})();
