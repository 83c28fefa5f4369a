/**
 * Roomkit's error model: one base class with a stable `code`, subclasses by origin (HTTP,
 * network, realtime, validation), after supabase-js's FunctionsError family. Runtime failures are
 * returned as `{ data, error }`; only misuse of the library throws.
 */
import {
  codeForStatus,
  ERROR_CODES,
  type ErrorCode,
  errorEnvelope,
  isErrorCode,
} from "../../functions/_shared/contract.ts";

/**
 * Every code the Roomkit server sends (SQL hint or function envelope), from the shared contract
 * (`functions/_shared/contract.ts`, with each code's HTTP status).
 *
 * @example
 * SERVER_ERROR_CODES.includes("room_full"); // true
 */
export const SERVER_ERROR_CODES: readonly ServerErrorCode[] = ERROR_CODES;

/**
 * A code from the Roomkit server (SQL hint or function envelope).
 *
 * @example
 * const messages: Partial<Record<ServerErrorCode, string>> = { room_full: "That room is full" };
 */
export type ServerErrorCode = ErrorCode;

/**
 * Every code a {@link RoomkitError} can carry: the server's codes, then codes only the client
 * derives. Open-ended (`string & {}`) so comparing with a code of another version still compiles.
 *
 * @example
 * const retryable = (code: RoomkitErrorCode) => code === "network_error" || code === "timeout";
 */
export type RoomkitErrorCode =
  | ServerErrorCode
  | "unauthorized"
  | "token_expired"
  | "network_error"
  | "timeout"
  | "channel_error"
  | "unknown"
  | (string & {});

/**
 * Is `code` one of the codes Roomkit's server sends?
 *
 * @example
 * if (error && isServerErrorCode(error.code)) showServerMessage(error.code);
 */
export function isServerErrorCode(code: unknown): code is ServerErrorCode {
  return isErrorCode(code);
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

/** PostgREST's own codes for a rejected token (PGRST301: invalid JWT, PGRST303: expired). */
const POSTGREST_CODES: Record<string, RoomkitErrorCode> = {
  PGRST301: "unauthorized",
  PGRST303: "token_expired",
};

/**
 * Turns a postgrest-js error into a Roomkit error. Order follows PostgrestError's own advice:
 * the `hint` first (Roomkit's machine-readable code), then PostgREST's own code, then the status
 * (which PostgREST derived from the SQLSTATE). postgrest-js reports fetch failures with status 0.
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
  if (isErrorCode(hint)) code = hint;
  else code = (error.code && POSTGREST_CODES[error.code]) || (codeForStatus(status) ?? "unknown");
  // PostgREST answers 42501 to a signed-out caller with 401, whatever the hint.
  if (error.code === "42501" && status === 401) code = "not_authenticated";
  return new RoomkitHttpError(code, message, status, { cause: error, details: error.details ?? undefined });
}

/**
 * Turns a non-2xx edge-function response into a Roomkit error, reading the error envelope
 * (`errorEnvelope` of the contract); without one (a gateway's answer), the status gives the code.
 *
 * @example
 * if (!response.ok) return { data: null, error: await fromFunctionResponse(response) };
 */
export async function fromFunctionResponse(response: Response): Promise<RoomkitError> {
  const body: unknown = await response
    .clone()
    .json()
    .catch(() => undefined);
  const envelope = errorEnvelope.safeParse(body);
  if (!envelope.success) {
    const code = codeForStatus(response.status) ?? "unknown";
    return new RoomkitHttpError(code, `Edge function answered ${response.status}`, response.status);
  }
  const { code, message, details } = envelope.data.error;
  return new RoomkitHttpError(code, message, response.status, { details });
}

/** `unknown` thrown by a dependency → a Roomkit error, keeping the original as `cause`. */
export function toRoomkitError(value: unknown, fallbackCode: RoomkitErrorCode = "unknown"): RoomkitError {
  if (isRoomkitError(value)) return value;
  const message = value instanceof Error ? value.message : String(value);
  if (value instanceof TypeError) return new RoomkitNetworkError(message, { cause: value });
  return new RoomkitError(fallbackCode, message, { cause: value });
}
