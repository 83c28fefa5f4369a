import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { header, isConnectionError, sendJson } from "./http.ts";
import { mapApiKey, type StackKeys } from "./keys.ts";
import type { Surface } from "./surface.ts";

/**
 * The four surfaces behind the gateway; `functions` is absent when the stack runs without Deno,
 * and may still be starting (a promise) when the stack does not wait for its worker.
 */
export interface GatewaySurfaces {
  auth: Surface;
  rest: Surface;
  realtime: Surface;
  functions?: Surface | Promise<Surface | undefined>;
}

type Route = keyof GatewaySurfaces;

/** Route prefixes, as the Supabase gateway strips them (`strip_path: true` in the CLI's kong.yml). */
const PREFIXES: readonly [string, Route][] = [
  ["/auth/v1", "auth"],
  ["/rest/v1", "rest"],
  ["/realtime/v1", "realtime"],
  ["/functions/v1", "functions"],
];

/**
 * Auth paths that need no apikey: the self-hosted kong.yml routes them without `key-auth`
 * (`auth-v1-open*`): email links, OAuth callbacks and the public JWKS.
 */
const OPEN_AUTH_PATHS = ["/verify", "/callback", "/authorize", "/.well-known/jwks.json"];

/** Realtime admin paths Supabase's gateway blocks with `request-termination` 403. */
const BLOCKED_REALTIME_PATHS = ["/api/tenants", "/api/openapi"];

/**
 * Error bodies of the hosted gateway (401 for both), verbatim as hosted Supabase answers
 * (reference §7, "Hosted gateway errors").
 */
export const NO_API_KEY = {
  message: "No API key found in request",
  hint: "No `apikey` request header or url param was found.",
} as const;
export const INVALID_API_KEY = {
  message: "Invalid API key",
  hint: "Double check your Supabase `anon` or `service_role` API key.",
} as const;
/** A surface could not reach the database and had no answer of its own: 503, retryable. */
export const DATABASE_UNAVAILABLE = {
  message: "The database is unavailable; the local stack reconnects when it is back.",
} as const;
/** Kong's answer when no route matches a path. */
export const NO_ROUTE = { message: "no Route matched with those values" } as const;

/**
 * CORS, as Kong's `cors` plugin answers with its defaults on every Supabase route: any origin,
 * these methods, the requested headers echoed back. The allow-list below is also always sent
 * so tools that inspect it see every header supabase-js uses.
 */
const CORS_ALLOW_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT";
export const CORS_ALLOW_HEADERS = [
  "authorization",
  "x-client-info",
  "apikey",
  "content-type",
  "accept",
  "accept-profile",
  "content-profile",
  "prefer",
  "range",
  "x-supabase-api-version",
  "x-retry-count",
  "x-region",
  "x-upsert",
  "traceparent",
  "tracestate",
  "baggage",
];
/** Response headers a browser may read: counts (PostgREST) and the ids and versions clients log. */
export const CORS_EXPOSE_HEADERS = [
  "content-range",
  "content-location",
  "content-profile",
  "location",
  "range-unit",
  "preference-applied",
  "proxy-status",
  "x-request-id",
  "x-supabase-api-version",
  "x-sb-error-code",
  "x-total-count",
  "link",
  "sb-error-code",
  "x-relay-error",
];
const CORS_MAX_AGE_SECONDS = "86400";

/** What the caller presented, after mapping `sb_` keys to the JWT keys they stand for. */
type KeyCheck =
  | { ok: true; mapped: string | undefined }
  | { ok: false; body: typeof NO_API_KEY | typeof INVALID_API_KEY };

function apikeyOf(req: IncomingMessage, url: URL): string | undefined {
  return header(req, "apikey") ?? url.searchParams.get("apikey") ?? undefined;
}

function checkKey(apikey: string | undefined, keys: StackKeys, required: boolean): KeyCheck {
  if (apikey === undefined || apikey === "")
    return required ? { ok: false, body: NO_API_KEY } : { ok: true, mapped: undefined };
  const mapped = mapApiKey(apikey, keys);
  if (mapped === undefined && required) return { ok: false, body: INVALID_API_KEY };
  return { ok: true, mapped };
}

/**
 * Sets `Authorization` the way the CLI's Kong does: keep the client's unless it is a
 * `Bearer sb_…` (an opaque key is never a bearer token upstream), else the JWT the apikey maps to.
 */
function applyAuthorization(req: IncomingMessage, mapped: string | undefined): void {
  const auth = header(req, "authorization");
  const opaque = auth !== undefined && /^bearer\s+sb_/i.test(auth);
  if (auth !== undefined && auth !== "" && !opaque) return;
  if (mapped !== undefined) req.headers.authorization = `Bearer ${mapped}`;
  else delete req.headers.authorization;
}

function route(pathname: string): { name: Route; rest: string } | undefined {
  for (const [prefix, name] of PREFIXES) {
    if (pathname === prefix || pathname.startsWith(`${prefix}/`)) {
      return { name, rest: pathname.slice(prefix.length) || "/" };
    }
  }
  return undefined;
}

function corsHeaders(req: IncomingMessage): Record<string, string> {
  return {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": CORS_EXPOSE_HEADERS.join(", "),
    ...(header(req, "origin") ? { vary: "Origin" } : {}),
  };
}

function preflight(req: IncomingMessage, res: ServerResponse): void {
  const requested = (header(req, "access-control-request-headers") ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "" && !CORS_ALLOW_HEADERS.includes(h));
  res.writeHead(200, {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": CORS_ALLOW_METHODS,
    "access-control-allow-headers": [...CORS_ALLOW_HEADERS, ...requested].join(", "),
    "access-control-max-age": CORS_MAX_AGE_SECONDS,
    "content-length": "0",
  });
  res.end();
}

/** Path after the prefix, with the query string kept. */
function surfacePath(rest: string, url: URL): string {
  return `${rest}${url.search}`;
}

/**
 * The HTTP half of the gateway: one handler for every request of the stack's single URL.
 *
 * @example
 * const server = createServer(createGatewayHandler({ keys, surfaces: () => surfaces, log }));
 */
export function createGatewayHandler(options: {
  keys: StackKeys;
  /** Resolves once every surface exists (the server listens before they are created). */
  surfaces: () => Promise<GatewaySurfaces>;
  log: (source: string, line: string) => void;
}): (req: IncomingMessage, res: ServerResponse) => void {
  const { keys, log } = options;
  return (req, res) => {
    const requestId = randomUUID();
    req.headers["x-request-id"] = requestId;
    res.setHeader("x-request-id", requestId);
    const url = new URL(req.url ?? "/", "http://gateway");
    const isPreflight =
      req.method === "OPTIONS" && header(req, "access-control-request-method") !== undefined;
    if (isPreflight) {
      preflight(req, res);
      return;
    }
    for (const [name, value] of Object.entries(corsHeaders(req))) res.setHeader(name, value);
    const target = route(url.pathname);
    if (!target) {
      sendJson(res, 404, NO_ROUTE);
      return;
    }
    if (target.name === "realtime" && BLOCKED_REALTIME_PATHS.some((p) => target.rest.startsWith(p))) {
      sendJson(res, 403, { message: "Access is forbidden." });
      return;
    }
    const open =
      target.name === "functions" ||
      (target.name === "auth" && OPEN_AUTH_PATHS.some((p) => target.rest.startsWith(p)));
    // Functions are a pass-through (kong.yml: "Functions is a passthrough that does NOT validate
    // keys"); the runtime's verify_jwt decides. Keys are still mapped so sb_ keys work there.
    const check = checkKey(apikeyOf(req, url), keys, !open);
    if (!check.ok) {
      sendJson(res, 401, check.body);
      return;
    }
    applyAuthorization(req, check.mapped);
    options
      .surfaces()
      .then(async (surfaces) => {
        const surface = await surfaces[target.name];
        if (!surface) {
          sendJson(res, 404, NO_ROUTE);
          return;
        }
        return surface.handle(req, res, surfacePath(target.rest, url));
      })
      .catch((error: unknown) => {
        if (isConnectionError(error)) {
          if (!res.headersSent) sendJson(res, 503, DATABASE_UNAVAILABLE);
          else res.destroy();
          return;
        }
        log("gateway", `${req.method} ${url.pathname} failed: ${(error as Error).stack ?? String(error)}`);
        if (!res.headersSent)
          sendJson(res, 500, { message: "An invalid response was received from the upstream server" });
        else res.destroy();
      });
  };
}

/** Writes a bare HTTP error on a socket that asked for a WebSocket upgrade, then closes it. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

/**
 * The WebSocket half: `/realtime/v1/…` upgrades go to the realtime surface after the same apikey
 * check (key-auth on the realtime route). The `apikey` query parameter is rewritten to the JWT an
 * `sb_` key maps to, as the CLI's Kong does, so Realtime only ever sees JWTs.
 *
 * @example
 * server.on("upgrade", createUpgradeHandler({ keys, surfaces: () => surfaces, log }));
 */
export function createUpgradeHandler(options: {
  keys: StackKeys;
  surfaces: () => Promise<GatewaySurfaces>;
  log: (source: string, line: string) => void;
}): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { keys, log } = options;
  return (req, socket, head) => {
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://gateway");
    const target = route(url.pathname);
    if (target?.name !== "realtime") {
      refuseUpgrade(socket, 404, "Not Found", NO_ROUTE);
      return;
    }
    const check = checkKey(apikeyOf(req, url), keys, true);
    if (!check.ok) {
      refuseUpgrade(socket, 401, "Unauthorized", check.body);
      return;
    }
    if (check.mapped !== undefined && url.searchParams.has("apikey"))
      url.searchParams.set("apikey", check.mapped);
    if (check.mapped !== undefined && header(req, "apikey") !== undefined) req.headers.apikey = check.mapped;
    req.headers["x-request-id"] = randomUUID();
    options
      .surfaces()
      .then((surfaces) => {
        const upgrade = surfaces.realtime.upgrade;
        if (!upgrade) {
          refuseUpgrade(socket, 501, "Not Implemented", { message: "realtime websocket not available" });
          return;
        }
        upgrade.call(surfaces.realtime, req, socket, head, surfacePath(target.rest, url));
      })
      .catch((error: unknown) => {
        log("gateway", `upgrade ${url.pathname} failed: ${(error as Error).stack ?? String(error)}`);
        socket.destroy();
      });
  };
}
