/**
 * PostgREST's error envelope and status mapping, as v14 answers them
 * (PostgREST/postgrest `src/PostgREST/Error.hs` at v14.12, the version the Supabase CLI pins).
 */

/** Body of every PostgREST error: `{code, details, hint, message}` (`toJsonPgrstError`). */
export interface RestErrorBody {
  code: string;
  details: unknown;
  hint: string | null;
  message: string;
}

/** An error that becomes one HTTP response in PostgREST's format. */
export class RestError extends Error {
  /** A string, or (PGRST201) the list of candidate relationships. */
  readonly details: unknown;
  readonly hint: string | null;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    details: unknown = null,
    hint: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "RestError";
    this.details = details;
    this.hint = hint;
  }

  body(): RestErrorBody {
    return { code: this.code, details: this.details, hint: this.hint, message: this.message };
  }
}

/** PGRST100: the query string did not parse (`QueryParamError`). */
export function parseError(message: string, details: string): RestError {
  return new RestError(400, "PGRST100", message, details);
}

/** PGRST102: the body is not the JSON PostgREST expects (`InvalidBody`). */
export const invalidBody = (message = "Empty or invalid json") => new RestError(400, "PGRST102", message);

/** PGRST103: negative limit or offset beyond the total (`InvalidRange`), 416. */
export const invalidRange = (details: string) =>
  new RestError(416, "PGRST103", "Requested range not satisfiable", details);

/** PGRST106: a schema that is not exposed was asked for in Accept-Profile/Content-Profile, 406. */
export const unacceptableSchema = (schema: string, exposed: readonly string[]) =>
  new RestError(
    406,
    "PGRST106",
    `Invalid schema: ${schema}`,
    null,
    `Only the following schemas are exposed: ${exposed.join(", ")}`,
  );

/** PGRST116: `Accept: application/vnd.pgrst.object+json` with a result of not exactly one row, 406. */
export const singularityError = (rows: number) =>
  new RestError(
    406,
    "PGRST116",
    "Cannot coerce the result to a single JSON object",
    `The result contains ${rows} rows`,
  );

/** PGRST125: a path deeper than `/<relation>` or `/rpc/<fn>`, 404. */
export const invalidPath = () => new RestError(404, "PGRST125", "Invalid path specified in request URL");

/** PGRST204: a body or `columns` key that is not a column (`ColumnNotFound`). */
export const columnNotFound = (table: string, column: string) =>
  new RestError(400, "PGRST204", `Could not find the '${column}' column of '${table}' in the schema cache`);

/** PGRST205: an unknown table or view, 404 since v13 (`TableNotFound`). */
export const tableNotFound = (schema: string, table: string, suggestion: string | null) =>
  new RestError(
    404,
    "PGRST205",
    `Could not find the table '${schema}.${table}' in the schema cache`,
    null,
    suggestion ? `Perhaps you meant the table '${schema}.${suggestion}'` : null,
  );

/** 42703 as Postgres words it for an unknown column in `select`/filters (`column t.c does not exist`). */
export const undefinedColumn = (table: string, column: string) =>
  new RestError(400, "42703", `column ${table}.${column} does not exist`);

/** 21000 as pg-safeupdate raises it, which Supabase preloads for PostgREST: 400 for filter-less writes. */
export const requiresWhere = (verb: "UPDATE" | "DELETE") =>
  new RestError(400, "21000", `${verb} requires a WHERE clause`);

/** The `WWW-Authenticate` value PostgREST sends with JWT errors (`invalidTokenHeader`). */
function invalidTokenHeader(message: string): Record<string, string> {
  return { "WWW-Authenticate": `Bearer error="invalid_token", error_description=${JSON.stringify(message)}` };
}

/** PGRST301: the token could not be decoded or verified. */
export const jwtDecodeError = (message: string, details: string | null = null) =>
  new RestError(401, "PGRST301", message, details, null, invalidTokenHeader(message));

/** PGRST303: the token verified but a claim is unacceptable (`JWT expired`, …). */
export const jwtClaimsError = (message: string) =>
  new RestError(401, "PGRST303", message, null, null, invalidTokenHeader(message));

/** Fields of a Postgres error as postgres.js exposes them. */
export interface PgErrorLike {
  code: string;
  message: string;
  detail?: string | undefined;
  hint?: string | undefined;
}

export function isPgError(error: unknown): error is PgErrorLike {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { name?: string }).name === "PostgresError" &&
    typeof (error as { code?: unknown }).code === "string"
  );
}

/**
 * HTTP status PostgREST gives a SQLSTATE (`pgErrorStatus`). `authed` is true when the request's
 * role is not the anon role: 42501 is then 403 instead of 401.
 *
 * @example
 * pgErrorStatus("42501", "permission denied for table rooms", false) // 401
 */
export function pgErrorStatus(code: string, message: string, authed: boolean): number {
  const two = code.slice(0, 2);
  switch (code) {
    case "23503":
    case "23505":
      return 409;
    case "25006":
      return 405;
    case "21000":
      return message.endsWith("requires a WHERE clause") ? 400 : 500;
    case "22023":
      return message.startsWith("role") && message.endsWith("does not exist") ? 401 : 400;
    case "53400":
      return 500;
    case "57P01":
      return 503;
    case "P0001":
      return 400;
    case "42883":
      return message.startsWith("function xmlagg(") ? 406 : 404;
    case "42P01":
      return 404;
    case "42P17":
      return 500;
    case "42501":
      return authed ? 403 : 401;
  }
  if (two === "08") return 503;
  if (two === "09") return 500;
  if (two === "0L" || two === "0P" || two === "28") return 403;
  if (["25", "2D", "38", "39", "3B", "40", "54", "55", "57", "58", "F0", "HV", "XX"].includes(two))
    return 500;
  if (two === "53") return 503;
  if (two === "P0") return 500;
  if (two === "PT") {
    const status = Number(code.slice(2));
    return Number.isInteger(status) && status >= 100 && status <= 999 ? status : 500;
  }
  return 400;
}

/**
 * Turns a Postgres error into PostgREST's response, including `RAISE SQLSTATE 'PGRST'` with JSON
 * message/detail (full control of status and headers) and `WWW-Authenticate: Bearer` on 401.
 */
export function fromPgError(error: PgErrorLike, authed: boolean): RestError {
  if (error.code === "PGRST") return fromRaisePgrst(error);
  const status = pgErrorStatus(error.code, error.message, authed);
  const headers: Record<string, string> = status === 401 ? { "WWW-Authenticate": "Bearer" } : {};
  return new RestError(status, error.code, error.message, error.detail ?? null, error.hint ?? null, headers);
}

function fromRaisePgrst(error: PgErrorLike): RestError {
  let message: { code?: unknown; message?: unknown; details?: unknown; hint?: unknown };
  try {
    message = JSON.parse(error.message);
  } catch {
    return new RestError(
      500,
      "PGRST121",
      `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`,
      `Invalid JSON value for MESSAGE: '${error.message}'`,
      "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.",
    );
  }
  let detail: { status?: unknown; status_text?: unknown; headers?: unknown } | undefined;
  try {
    detail = error.detail === undefined ? undefined : JSON.parse(error.detail);
  } catch {
    detail = undefined;
  }
  if (!detail || typeof detail.status !== "number" || typeof message.code !== "string") {
    return new RestError(
      500,
      "PGRST121",
      `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`,
      error.detail === undefined
        ? "DETAIL is missing in the RAISE statement"
        : `Invalid JSON value for DETAIL: '${error.detail}'`,
      "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.",
    );
  }
  const headers: Record<string, string> = {};
  if (detail.headers && typeof detail.headers === "object") {
    for (const [k, v] of Object.entries(detail.headers)) headers[k] = String(v);
  }
  return new RestError(
    detail.status,
    message.code,
    String(message.message ?? ""),
    typeof message.details === "string" ? message.details : null,
    typeof message.hint === "string" ? message.hint : null,
    headers,
  );
}
