import type { IncomingMessage, ServerResponse } from "node:http";

/** Default request-body cap. GoTrue and PostgREST accept far less than this for JSON bodies. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** Why a request body could not be used; each surface maps it to its own error body. */
export type BodyFailure = "too_large" | "invalid_json";

/** A request body that was too large or not JSON. */
export class BodyError extends Error {
  constructor(
    readonly reason: BodyFailure,
    message: string,
  ) {
    super(message);
    this.name = "BodyError";
  }
}

/**
 * Reads the whole request body, refusing more than `limit` bytes.
 *
 * @example
 * const raw = await readBody(req, 64 * 1024);
 */
export async function readBody(req: IncomingMessage, limit = DEFAULT_BODY_LIMIT_BYTES): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new BodyError("too_large", `request body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new BodyError("too_large", `request body larger than ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads and parses a JSON body. An empty body gives `undefined` (GoTrue treats it as `{}`).
 *
 * @example
 * const body = (await readJson(req)) ?? {};
 */
export async function readJson(req: IncomingMessage, limit = DEFAULT_BODY_LIMIT_BYTES): Promise<unknown> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch (error) {
    throw new BodyError("invalid_json", (error as Error).message);
  }
}

/**
 * Answers with a JSON body (`application/json; charset=utf-8`). A `null` body with status 204
 * sends no body at all.
 *
 * @example
 * sendJson(res, 200, { ok: true }, { "cache-control": "no-store" });
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (status === 204 || body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** First value of a request header (Node joins or arrays some repeated headers). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The Bearer token of `Authorization`, if any (scheme matched case-insensitively, as GoTrue does). */
export function bearerToken(req: IncomingMessage): string | undefined {
  const value = header(req, "authorization");
  const match = value?.match(/^bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/**
 * Percent-decoding that never throws: a malformed escape (`%ZZ`, a lone `%`) stays as written,
 * as Warp's lenient `urlDecode` leaves it for PostgREST, so bad input is an unknown name, not a 500.
 *
 * @example
 * decodePathSegment("a%20b%ZZ") // "a b%ZZ"
 */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

/** Postgres error fields and postgres.js connection error codes that mean "the database is not reachable". */
const CONNECTION_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  // admin_shutdown, crash_shutdown, cannot_connect_now (starting up / shutting down)
  "57P01",
  "57P02",
  "57P03",
]);

/**
 * Whether an error means the database could not be reached (down, restarting, connection cut),
 * as opposed to an error of the request itself. Surfaces answer these with 503.
 *
 * @example
 * if (isConnectionError(error)) sendJson(res, 503, { message: "database unavailable" });
 */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  return CONNECTION_ERROR_CODES.has(code) || code.startsWith("08");
}
