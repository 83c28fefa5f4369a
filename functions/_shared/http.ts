/**
 * HTTP plumbing shared by every function: a small router that runs each request in the fixed
 * order OPTIONS → validate (path, query, body) → authenticate → work → respond, and turns every
 * failure into the one error envelope.
 */
import type { z } from "zod";
import type { ErrorEnvelope } from "./contract.ts";
import { CORS_HEADERS, preflight } from "./cors.ts";
import { ApiError, validationError } from "./errors.ts";

/** Largest JSON body a function reads; Roomkit bodies are a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** What a route's `run` gets: validated inputs, the authenticated caller, the raw request. */
export interface RouteContext<P, Q, B, A> {
  req: Request;
  url: URL;
  params: P;
  query: Q;
  body: B;
  /** The body exactly as received (webhook signatures are computed over it). */
  rawBody: string;
  caller: A;
  requestId: string;
}

/** One endpoint of a function. `path` is relative to the function, e.g. `/:id/accept`. */
export interface Route {
  method: string;
  path: string;
  handle(req: Request, url: URL, params: Record<string, string>, requestId: string): Promise<Response>;
}

interface RouteDefinition<P, Q, B, A> {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** Reads the body as text without parsing it (for signed webhooks). */
  rawBody?: boolean;
  /** Authenticates the caller after validation; throws an `ApiError` (401/403) to refuse. */
  auth: (req: Request) => Promise<A>;
  run(ctx: RouteContext<P, Q, B, A>): Promise<Response>;
}

/**
 * Declares a route; inputs are validated with the given zod schemas before `auth` and `run`.
 *
 * @example
 * route({ method: "POST", path: "/:id/accept", params: z.object({ id }), auth: requireUser,
 *   run: async ({ params, caller }) => json(200, await accept(caller, params.id)) });
 */
export function route<P = Record<string, string>, Q = Record<string, string>, B = undefined, A = undefined>(
  def: RouteDefinition<P, Q, B, A>,
): Route {
  return {
    method: def.method,
    path: def.path,
    async handle(req, url, rawParams, requestId) {
      const params = validate(def.params, rawParams, "path") as P;
      const query = validate(def.query, Object.fromEntries(url.searchParams), "query") as Q;
      let rawBody = "";
      let body: B = undefined as B;
      if (def.body || def.rawBody) {
        rawBody = await readText(req);
        if (def.body) body = validate(def.body, parseJson(rawBody), "body") as B;
      }
      const caller = await def.auth(req);
      return def.run({ req, url, params, query, body, rawBody, caller, requestId });
    },
  };
}

function validate(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return value;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error.issues, where);
  return parsed.data;
}

async function readText(req: Request): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES)
    throw new ApiError("invalid_input", `Request body exceeds ${MAX_BODY_BYTES} bytes`);
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.byteLength > MAX_BODY_BYTES)
    throw new ApiError("invalid_input", `Request body exceeds ${MAX_BODY_BYTES} bytes`);
  return new TextDecoder().decode(bytes);
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError("invalid_input", "Request body is not valid JSON");
  }
}

/**
 * A JSON response with CORS headers (`204`/`null` sends no body).
 *
 * @example
 * return json(201, { invite });
 */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  if (status === 204 || body === null)
    return new Response(null, { status, headers: { ...CORS_HEADERS, ...headers } });
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...CORS_HEADERS, "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** The envelope for `error` (an `ApiError`, or a generic 500 for anything else, logged in full). */
export function errorResponse(error: unknown, requestId: string, fn: string): Response {
  if (error instanceof ApiError) {
    const body: ErrorEnvelope = {
      error: {
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
        request_id: requestId,
      },
    };
    return json(error.status, body, { "x-request-id": requestId });
  }
  console.error(`[${fn}] request ${requestId} failed:`, error);
  const body: ErrorEnvelope = {
    error: { code: "internal_error", message: "Internal server error", request_id: requestId },
  };
  return json(500, body, { "x-request-id": requestId });
}

function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(":")) {
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        params[w.slice(1)] = g;
      }
    } else if (w !== g) return undefined;
  }
  return params;
}

/**
 * The `handler` of one function: strips the function name that Supabase leaves at the start of
 * the path (`/invites/abc/accept` → `/abc/accept`), answers preflights, routes, and maps errors.
 *
 * @example
 * export const handler = createHandler("invites", [listInvites, createInvite]);
 * if (import.meta.main) Deno.serve(handler);
 */
export function createHandler(name: string, routes: readonly Route[]): (req: Request) => Promise<Response> {
  return async (req) => {
    if (req.method === "OPTIONS") return preflight();
    const requestId = req.headers.get("x-request-id") ?? crypto.randomUUID();
    try {
      const url = new URL(req.url);
      const segments = url.pathname.split("/").filter(Boolean);
      // The gateway passes `/<name>/…`; tolerate a bare `/…` too (direct invocation in tests).
      const rest = segments[0] === name ? segments.slice(1) : segments;
      const path = `/${rest.join("/")}`;
      const allowed: string[] = [];
      for (const r of routes) {
        const params = match(r.path, path);
        if (!params) continue;
        if (r.method !== req.method && !(r.method === "GET" && req.method === "HEAD")) {
          allowed.push(r.method);
          continue;
        }
        const res = await r.handle(req, url, params, requestId);
        res.headers.set("x-request-id", requestId);
        return res;
      }
      if (allowed.length > 0) {
        const err = new ApiError("method_not_allowed", `Method ${req.method} is not allowed here`);
        const res = errorResponse(err, requestId, name);
        res.headers.set("allow", [...new Set(allowed), "OPTIONS"].join(", "));
        return res;
      }
      return errorResponse(new ApiError("not_found", `No route for ${req.method} ${path}`), requestId, name);
    } catch (error) {
      return errorResponse(error, requestId, name);
    }
  };
}
