/**
 * Roomkit's one error type for edge functions. Anything thrown that is not an `ApiError` becomes a
 * generic 500 (logged in full by `http.ts`, never echoed to the caller).
 */
import { ERROR_STATUS, type ErrorCode } from "./contract.ts";

/**
 * A failure the caller may see: a code from the closed set, a human message, optional details
 * (validation issues name field paths). The status is the code's (`ERROR_STATUS`) unless given:
 * `mapDbError` passes the one PostgREST would answer for the SQLSTATE, so both surfaces agree.
 *
 * @example
 * throw new ApiError("room_not_found", "Room not found");
 * throw new ApiError("invalid_input", "Bad cursor", { details: [{ path: "before", message: "not a cursor" }] });
 */
export class ApiError extends Error {
  readonly status: number;
  readonly details: unknown;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { status?: number; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "ApiError";
    this.status = options.status ?? ERROR_STATUS[code];
    this.details = options.details;
  }
}

/** Zod-like issues as `details`: `[{ path: "room_id", message }]`. */
export interface IssueLike {
  path: PropertyKey[];
  message: string;
}

/**
 * A 400 `invalid_input` naming the fields that failed validation.
 *
 * @example
 * const parsed = schema.safeParse(body);
 * if (!parsed.success) throw validationError(parsed.error.issues);
 */
export function validationError(issues: readonly IssueLike[], where = "body"): ApiError {
  const details = issues.map((i) => ({
    path: i.path.map(String).join(".") || where,
    message: i.message,
  }));
  const first = details[0];
  const message = first ? `Invalid ${where}: ${first.path}: ${first.message}` : `Invalid ${where}`;
  return new ApiError("invalid_input", message, { details });
}
