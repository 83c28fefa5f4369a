/**
 * What the REST surface answers: the outcome of one request (status, headers, body), the row its
 * one statement returns, and the response facts PostgREST derives from them: `Content-Range`, the
 * 200/206/416 of a ranged read, `response.status`/`response.headers` set from SQL, stripped nulls,
 * error bodies with `Proxy-Status`.
 */
import type { ServerResponse } from "node:http";
import { DEFAULT_BODY_LIMIT_BYTES } from "../http.ts";
import { RestError } from "./errors.ts";

export const JSON_TYPE = "application/json; charset=utf-8";
export const OBJECT_TYPE = "application/vnd.pgrst.object+json; charset=utf-8";

/** One finished response. */
export interface Outcome {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

/** The one row every statement the surface runs returns (see `buildReadStatement`). */
export interface StatementRow {
  body: string | null;
  page_total: string | number;
  total: string | number | null;
  inserted?: string | number | null;
  csv_rows?: string | null;
  response_headers: string | null;
  response_status: string | null;
}

/** `Content-Range` as `RangeQuery.hs contentRangeH` formats it. */
export function contentRange(lower: number, upper: number, total: number | null): string {
  const range = total !== 0 && lower <= upper ? `${lower}-${upper}` : "*";
  return `${range}/${total === null ? "*" : total}`;
}

/** 200, or 206 when counting showed more rows than returned, or 416 past the end. */
export function rangeStatus(lower: number, upper: number, total: number | null): number {
  if (total === null) return 200;
  if (lower > total) return 416;
  if (1 + upper - lower < total) return 206;
  return 200;
}

/** Applies `response.status` / `response.headers` set by SQL (PostgREST `overrideStatusHeaders`). */
export function applyGucs(outcome: Outcome, row: StatementRow | undefined): Outcome {
  if (!row) return outcome;
  if (row.response_status) {
    const status = Number(row.response_status);
    if (!/^\d{3}$/.test(row.response_status.trim()) || status < 100) {
      throw new RestError(500, "PGRST112", "response.status guc must be a valid status code");
    }
    outcome.status = status;
  }
  if (row.response_headers) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(row.response_headers);
    } catch {
      parsed = null;
    }
    const invalid = () =>
      new RestError(
        500,
        "PGRST111",
        "response.headers guc must be a JSON array composed of objects with a single key and a string value",
      );
    if (!Array.isArray(parsed)) throw invalid();
    for (const entry of parsed) {
      const pairs = entry && typeof entry === "object" ? Object.entries(entry) : [];
      if (pairs.length !== 1 || typeof pairs[0]![1] !== "string") throw invalid();
      outcome.headers[pairs[0]![0]] = pairs[0]![1] as string;
    }
  }
  return outcome;
}

/** `application/vnd.pgrst.*;nulls=stripped`: drop null-valued keys of the returned objects. */
export function stripNulls(body: string): string {
  const strip = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(strip)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([, x]) => x !== null)
              .map(([k, x]) => [k, strip(x)]),
          )
        : v;
  return JSON.stringify(strip(JSON.parse(body)));
}

/** The body of a read or a representation: one object for `single()`, nulls stripped when asked. */
export function shapeBody(
  body: string,
  media: { single: boolean; stripNulls: boolean },
  single = media.single,
): string {
  let shaped = single ? body.slice(1, -1).trim() : body;
  if (media.stripNulls) shaped = stripNulls(shaped);
  return shaped;
}

/**
 * PGRST000, 503: the database cannot be reached (down or restarting). PostgREST answers this while
 * it retries its connection; `details` carries the driver's reason (`Error.hs` ConnectionUsageError).
 */
export function databaseUnavailable(error: unknown): RestError {
  const reason = (error as { message?: string }).message ?? String(error);
  return new RestError(503, "PGRST000", "Database connection error. Retrying the connection.", reason);
}

/**
 * 413 for a body over the local stack's limit. PostgREST has no limit of its own (the platform's
 * proxy has one); the envelope is PostgREST's, the code that of an unusable body (PGRST102).
 */
export function bodyTooLarge(): RestError {
  return new RestError(
    413,
    "PGRST102",
    "Request body too large",
    `The local stack accepts request bodies up to ${DEFAULT_BODY_LIMIT_BYTES} bytes`,
  );
}

/** An error as PostgREST answers it: its JSON body, `Proxy-Status`, and any headers it carries. */
export function errorResponse(rest: RestError): Outcome {
  return {
    status: rest.status,
    headers: {
      "Content-Type": JSON_TYPE,
      "Proxy-Status": `PostgREST; error=${rest.code}`,
      ...rest.headers,
    },
    body: JSON.stringify(rest.body()),
  };
}

/** Writes an outcome; HEAD gets the headers (with the body's length) and no body. */
export function send(res: ServerResponse, outcome: Outcome, head: boolean): void {
  const body = outcome.body === null ? "" : outcome.body;
  const headers: Record<string, string | number> = { ...outcome.headers };
  if (outcome.status !== 204) headers["Content-Length"] = Buffer.byteLength(head ? "" : body);
  res.writeHead(outcome.status, headers);
  res.end(head || outcome.status === 204 ? undefined : body);
}
