import type { IncomingMessage, ServerResponse } from "node:http";
import { header, sendJson } from "../http.ts";

/**
 * API version auth-js announces in `X-Supabase-Api-Version`. From this version on GoTrue
 * answers errors as `{code, message}` and echoes the header, which auth-js needs to read
 * `error.code` (GoTrue `internal/api/apiversions.go`, `errors.go`; auth-js `lib/fetch.ts`).
 */
export const API_VERSION_2024_01_01 = "2024-01-01";
export const API_VERSION_HEADER = "x-supabase-api-version";

/** A GoTrue error: HTTP status, machine code (`error_code`) and message. */
export class AuthError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra top-level fields, e.g. `weak_password: {reasons}`. */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "AuthError";
  }
}

/**
 * An OAuth2-style error (`{error, error_description}`), which GoTrue uses on `/token` for
 * malformed grant requests (e.g. a missing refresh token).
 */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
    this.name = "OAuthError";
  }
}

/** Messages and codes of the GoTrue errors the stand-in raises (GoTrue `apierrors/errorcode.go`, api/*.go). */
export const E = {
  invalidCredentials: () => new AuthError(400, "invalid_credentials", "Invalid login credentials"),
  emailNotConfirmed: () => new AuthError(400, "email_not_confirmed", "Email not confirmed"),
  userBanned: () => new AuthError(400, "user_banned", "User is banned"),
  userAlreadyExists: () => new AuthError(422, "user_already_exists", "User already registered"),
  emailExists: () =>
    new AuthError(422, "email_exists", "A user with this email address has already been registered"),
  weakPassword: (min: number) =>
    new AuthError(422, "weak_password", `Password should be at least ${min} characters.`, {
      weak_password: { reasons: ["length"] },
    }),
  samePassword: () =>
    new AuthError(422, "same_password", "New password should be different from the old password."),
  validation: (message: string) => new AuthError(400, "validation_failed", message),
  badJson: (detail: string) =>
    new AuthError(400, "bad_json", `Could not parse request body as JSON: ${detail}`),
  signupDisabled: () => new AuthError(422, "signup_disabled", "Signups not allowed for this instance"),
  anonymousDisabled: () =>
    new AuthError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled"),
  noAuthorization: () =>
    new AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token"),
  badJwt: (detail: string) =>
    new AuthError(403, "bad_jwt", `invalid JWT: unable to parse or verify signature, ${detail}`),
  missingSub: () => new AuthError(403, "bad_jwt", "invalid claim: missing sub claim"),
  userFromJwtMissing: () => new AuthError(403, "user_not_found", "User from sub claim in JWT does not exist"),
  sessionNotFound: () =>
    new AuthError(403, "session_not_found", "Session from session_id claim in JWT does not exist"),
  notAdmin: () => new AuthError(403, "not_admin", "User not allowed"),
  userNotFound: () => new AuthError(404, "user_not_found", "User not found"),
  refreshTokenNotFound: () =>
    new AuthError(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"),
  refreshTokenAlreadyUsed: () =>
    new AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used"),
  unsupportedGrant: () => new AuthError(400, "invalid_credentials", "unsupported_grant_type"),
  notFound: () => new AuthError(404, "not_found", "Not Found"),
  methodNotAllowed: () => new AuthError(405, "method_not_allowed", "Method Not Allowed"),
  requestTooLarge: () => new AuthError(413, "request_too_large", "Request body too large"),
  /** The database cannot be reached: 503, so auth-js retries (`AuthRetryableFetchError`). */
  databaseUnavailable: () =>
    new AuthError(503, "unexpected_failure", "Database connection error. Retrying the connection."),
  unexpected: () =>
    new AuthError(
      500,
      "unexpected_failure",
      "Unexpected failure, please check server logs for more information",
    ),
} as const;

/** Whether the request announced API version 2024-01-01 or later (ISO dates compare as strings). */
export function usesNewErrorFormat(req: IncomingMessage): boolean {
  const version = header(req, API_VERSION_HEADER);
  return version !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= API_VERSION_2024_01_01;
}

/**
 * Answers an error in the format the caller's API version expects: `{code, message}` plus the
 * echoed version header for 2024-01-01, else the legacy `{code: <status>, error_code, msg}`.
 *
 * @example
 * sendAuthError(req, res, E.invalidCredentials());
 */
export function sendAuthError(
  req: IncomingMessage,
  res: ServerResponse,
  error: AuthError | OAuthError,
): void {
  if (error instanceof OAuthError) {
    sendJson(res, error.status, { error: error.error, error_description: error.description });
    return;
  }
  const headers: Record<string, string> = { "x-sb-error-code": error.code };
  if (usesNewErrorFormat(req)) {
    headers[API_VERSION_HEADER] = API_VERSION_2024_01_01;
    sendJson(res, error.status, { code: error.code, message: error.message, ...error.extra }, headers);
    return;
  }
  sendJson(
    res,
    error.status,
    { code: error.status, error_code: error.code, msg: error.message, ...error.extra },
    headers,
  );
}
