/**
 * Roomkit's error model: one base class with a stable `code`, subclasses by origin (HTTP,
 * network, realtime, validation), after supabase-js's FunctionsError family. Runtime failures are
 * returned as `{ data, error }`; only misuse of the library throws.
 */

/**
 * Codes the Roomkit SQL functions and edge functions put in the error HINT / envelope
 * (see supabase/migrations/*_types.sql for the convention).
 *
 * @example
 * SERVER_ERROR_CODES.includes("room_full"); // true
 */
export const SERVER_ERROR_CODES = [
  "not_authenticated",
  "not_member",
  "forbidden",
  "invalid_input",
  "room_not_found",
  "user_not_found",
  "invite_not_found",
  "message_not_found",
  "already_member",
  "invite_exists",
  "invite_expired",
  "invite_revoked",
  "invite_declined",
  "invite_accepted",
  "room_full",
  "room_inactive",
] as const;

/**
 * A code from the Roomkit server (SQL hint or function envelope).
 *
 * @example
 * const messages: Partial<Record<ServerErrorCode, string>> = { room_full: "That room is full" };
 */
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

/**
 * Every code a {@link RoomkitError} can carry. Server codes first, then codes the client derives
 * when the server did not name one. Open-ended (`string & {}`) so new server codes pass through.
 *
 * @example
 * const retryable = (code: RoomkitErrorCode) => code === "network_error" || code === "timeout";
 */
export type RoomkitErrorCode =
  | ServerErrorCode
  | "not_found"
  | "conflict"
  | "rate_limited"
  | "unauthorized"
  | "token_expired"
  | "network_error"
  | "timeout"
  | "channel_error"
  | "internal"
  | "unknown"
  | (string & {});

const SERVER_CODES = new Set<string>(SERVER_ERROR_CODES);

/**
 * Is `code` one of the codes Roomkit's server sends?
 *
 * @example
 * if (error && isServerErrorCode(error.code)) showServerMessage(error.code);
 */
export function isServerErrorCode(code: unknown): code is ServerErrorCode {
  return typeof code === "string" && SERVER_CODES.has(code);
}

/**
 * Base class of every error the Roomkit client returns.
 *
 * @example
 * const { error } = await roomkit.coworking.join(roomId);
 * if (error?.code === "room_full") showToast("That room is full");
 */
export class RoomkitError extends Error {
  /** Stable machine-readable code; branch on this, never on `message`. */
  readonly code: RoomkitErrorCode;
  /** Extra structured information (validation issues, server details). */
  readonly details: unknown;
  /** Brand that survives duplicated bundles where `instanceof` does not. */
  readonly __isRoomkitError = true;

  constructor(code: RoomkitErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RoomkitError";
    this.code = code;
    this.details = options.details;
  }

  toJSON(): { name: string; code: string; message: string; details: unknown } {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/**
 * The server answered with a non-2xx status (REST, RPC or an edge function).
 *
 * @example
 * if (error instanceof RoomkitHttpError && error.status === 409) retryLater();
 */
export class RoomkitHttpError extends RoomkitError {
  /** HTTP status of the response. */
  readonly status: number;
  constructor(
    code: RoomkitErrorCode,
    message: string,
    status: number,
    options: { cause?: unknown; details?: unknown } = {},
  ) {
    super(code, message, options);
    this.name = "RoomkitHttpError";
    this.status = status;
  }
}

/**
 * The request never got an HTTP answer (offline, DNS, connection refused, aborted).
 *
 * @example
 * if (error instanceof RoomkitNetworkError) showOfflineBanner();
 */
export class RoomkitNetworkError extends RoomkitError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("network_error", message, options);
    this.name = "RoomkitNetworkError";
  }
}

/**
 * A realtime channel could not be joined or was closed by the server.
 *
 * @example
 * const { error } = await roomkit.openRoom(roomId);
 * if (error instanceof RoomkitRealtimeError && error.code === "unauthorized") leaveRoomView();
 */
export class RoomkitRealtimeError extends RoomkitError {
  constructor(code: RoomkitErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(code, message, options);
    this.name = "RoomkitRealtimeError";
  }
}

/**
 * One problem with an input, with the path of the offending field.
 *
 * @example
 * if (error instanceof RoomkitValidationError) error.issues.forEach((i) => markField(i.path.join("."), i.message));
 */
export interface ValidationIssue {
  path: (string | number)[];
  message: string;
}

/**
 * An input failed validation before anything was sent (code `invalid_input`).
 *
 * @example
 * const { error } = await roomkit.rooms.create({ name: "" });
 * if (error instanceof RoomkitValidationError) console.log(error.issues[0].path); // ["name"]
 */
export class RoomkitValidationError extends RoomkitError {
  readonly issues: ValidationIssue[];
  constructor(message: string, issues: ValidationIssue[]) {
    super("invalid_input", message, { details: issues });
    this.name = "RoomkitValidationError";
    this.issues = issues;
  }
}

/**
 * True for any Roomkit error, also across duplicated copies of the library.
 *
 * @example
 * if (isRoomkitError(e)) console.log(e.code);
 */
export function isRoomkitError(value: unknown): value is RoomkitError {
  return typeof value === "object" && value !== null && (value as RoomkitError).__isRoomkitError === true;
}

/** The shape postgrest-js hands back (`PostgrestError` plus the response status). */
interface PostgrestLikeError {
  message?: string;
  details?: string | null;
  hint?: string | null;
  code?: string | null;
}

/**
 * Codes derived from the HTTP status when the server gave no Roomkit hint. PostgREST maps
 * 42501 to 401 for anon and 403 for a signed-in role (PostgREST `Error.hs` errorToStatus).
 */
function codeForStatus(status: number): RoomkitErrorCode {
  if (status === 400 || status === 422) return "invalid_input";
  if (status === 401) return "not_authenticated";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "internal";
  return "unknown";
}

/** Postgres SQLSTATEs with a meaning of their own when no hint was given. */
const SQLSTATE_CODES: Record<string, RoomkitErrorCode> = {
  "22023": "invalid_input",
  "23514": "invalid_input",
  "22P02": "invalid_input",
  "23505": "conflict",
  "42501": "forbidden",
  // PostgREST's own: JWT expired / invalid (PGRST301, PGRST303).
  PGRST301: "unauthorized",
  PGRST303: "token_expired",
};

/**
 * Turns a postgrest-js error into a Roomkit error. Order follows PostgrestError's own advice:
 * the `hint` first (Roomkit's machine-readable code), then the SQLSTATE, then the status.
 * postgrest-js reports fetch failures with status 0.
 *
 * @example
 * const { data, error, status } = await supabase.rpc("join_coworking_room", { room_id });
 * if (error) return { data: null, error: fromPostgrestError(error, status) };
 */
export function fromPostgrestError(error: PostgrestLikeError, status: number): RoomkitError {
  const message = error.message || "Request failed";
  if (status === 0) return new RoomkitNetworkError(message, { cause: error });
  const hint = error.hint ?? "";
  let code: RoomkitErrorCode;
  if (isServerErrorCode(hint)) code = hint;
  else if (error.code && SQLSTATE_CODES[error.code]) code = SQLSTATE_CODES[error.code]!;
  else code = codeForStatus(status);
  // A signed-out caller meets 42501 as 401.
  if (code === "forbidden" && status === 401) code = "not_authenticated";
  return new RoomkitHttpError(code, message, status, { cause: error, details: error.details ?? undefined });
}

/** Edge function error envelope: `{ "error": { "code", "message", "details"? } }` (STYLE.md §8). */
interface ErrorEnvelope {
  error?: { code?: unknown; message?: unknown; details?: unknown };
}

/**
 * Turns a non-2xx edge-function response into a Roomkit error, reading the error envelope.
 *
 * @example
 * if (!response.ok) return { data: null, error: await fromFunctionResponse(response) };
 */
export async function fromFunctionResponse(response: Response): Promise<RoomkitError> {
  let envelope: ErrorEnvelope | undefined;
  try {
    envelope = (await response.clone().json()) as ErrorEnvelope;
  } catch {
    envelope = undefined;
  }
  const body = envelope?.error;
  const code =
    typeof body?.code === "string" && body.code !== "" ? body.code : codeForStatus(response.status);
  const message =
    typeof body?.message === "string" ? body.message : `Edge function answered ${response.status}`;
  return new RoomkitHttpError(code, message, response.status, { details: body?.details });
}

/** `unknown` thrown by a dependency → a Roomkit error, keeping the original as `cause`. */
export function toRoomkitError(value: unknown, fallbackCode: RoomkitErrorCode = "unknown"): RoomkitError {
  if (isRoomkitError(value)) return value;
  const message = value instanceof Error ? value.message : String(value);
  if (value instanceof TypeError) return new RoomkitNetworkError(message, { cause: value });
  return new RoomkitError(fallbackCode, message, { cause: value });
}
