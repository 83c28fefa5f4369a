import { decodeJwt } from "jose";
import { type Claims, JwtError, verifyJwt } from "../jwt.ts";
import { mapApiKey, type StackKeys } from "../keys.ts";

/**
 * Token checks as Supabase Realtime makes them (supabase/realtime
 * `channels/auth/jwt_verification.ex`, `channels_authorization.ex`, `realtime_channel.ex`
 * `confirm_token`): the signature must verify, `exp` must be in the future, and both `role`
 * and `exp` must be present.
 */

/** Error codes and texts, exactly as the server words them. */
export const TOKEN_ERRORS = {
  malformed: { code: "MalformedJWT", message: "The token provided is not a valid JWT" },
  signature: { code: "JwtSignatureError", message: "Failed to validate JWT signature" },
  missingClaims: { code: "InvalidJWTToken", message: "Fields `role` and `exp` are required in JWT" },
} as const;

/** Code of an expired token at join (`InvalidJWTToken: Token has expired N seconds ago`). */
export const EXPIRED_CODE = "InvalidJWTToken";

export function expiredMessage(secondsAgo: number): string {
  return `Token has expired ${secondsAgo} seconds ago`;
}

export type TokenResult =
  | { ok: true; claims: Claims & { role: string; exp: number } }
  | { ok: false; code: string; message: string; kind: "malformed" | "signature" | "expired" | "claims" };

/**
 * Maps the new-style API keys to the JWTs hosted gateways put in their place, so
 * `?apikey=sb_publishable_…` works as it does on Supabase.
 *
 * @example
 * resolveApiKey(keys.publishableKey, keys) === keys.anonKey
 */
export function resolveApiKey(token: string, keys: StackKeys): string {
  return mapApiKey(token, keys) ?? token;
}

/**
 * Verifies a token and classifies a failure the way Realtime reports it.
 *
 * @example
 * const r = await checkToken(jwt, keys);
 * if (!r.ok) reply(`${r.code}: ${r.message}`);
 */
export async function checkToken(raw: string, keys: StackKeys): Promise<TokenResult> {
  // The server URL-decodes and strips whitespace before verifying (jwt_verification.ex).
  const token = safeDecode(raw).replace(/\s/g, "");
  let claims: Claims;
  try {
    claims = await verifyJwt(token, keys);
  } catch (error) {
    if (error instanceof JwtError && error.reason === "expired") {
      const exp = Number(decodeJwt(token).exp);
      return { ok: false, kind: "expired", code: EXPIRED_CODE, message: expiredMessage(secondsSince(exp)) };
    }
    if (error instanceof JwtError && error.reason === "bad_signature")
      return { ok: false, kind: "signature", ...TOKEN_ERRORS.signature };
    return { ok: false, kind: "malformed", ...TOKEN_ERRORS.malformed };
  }
  if (typeof claims.role !== "string" || typeof claims.exp !== "number")
    return { ok: false, kind: "claims", ...TOKEN_ERRORS.missingClaims };
  if (claims.exp <= Math.floor(Date.now() / 1000))
    return {
      ok: false,
      kind: "expired",
      code: EXPIRED_CODE,
      message: expiredMessage(secondsSince(claims.exp)),
    };
  return { ok: true, claims: claims as Claims & { role: string; exp: number } };
}

function secondsSince(exp: number): number {
  return Math.max(0, Math.floor(Date.now() / 1000) - exp);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
