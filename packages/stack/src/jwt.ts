import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  importJWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from "jose";
import type { StackKeys } from "./keys.ts";

/** Claims of a Supabase access token or API key. */
export interface Claims extends JWTPayload {
  role?: string;
  email?: string;
  session_id?: string;
  is_anonymous?: boolean;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
  aal?: string;
  amr?: { method: string; timestamp: number }[];
}

export type JwtFailure = "malformed" | "bad_signature" | "expired" | "unsupported_alg";

/** A token that did not verify; `reason` says why (callers map it to their surface's error). */
export class JwtError extends Error {
  constructor(
    readonly reason: JwtFailure,
    message: string,
  ) {
    super(message);
    this.name = "JwtError";
  }
}

/**
 * The HMAC key of a project secret, imported once: jose would otherwise import it through
 * WebCrypto on every verification, which was the REST surface's largest CPU cost per request
 * (bench/send.ts, send_rest_over_bare_insert).
 */
const hmacKeys = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    hmacKeys.set(secret, key);
  }
  return key;
}

/** The local JWKS of a signing key, built once per key. */
const jwksByKid = new Map<string, ReturnType<typeof createLocalJWKSet>>();
function localJwks(keys: StackKeys): ReturnType<typeof createLocalJWKSet> {
  const id = `${keys.signingKey.kid}:${JSON.stringify(keys.signingKey.publicJwk)}`;
  let jwks = jwksByKid.get(id);
  if (!jwks) {
    jwks = createLocalJWKSet({ keys: [keys.signingKey.publicJwk] });
    jwksByKid.set(id, jwks);
  }
  return jwks;
}

/**
 * Verifies an HS256 token (the project secret) or an ES256 token (the stack's signing key, as
 * published in its JWKS). `exp` is enforced when present.
 */
export async function verifyJwt(token: string, keys: StackKeys): Promise<Claims> {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new JwtError("malformed", "invalid JWT: unable to parse or verify signature, token is malformed");
  }
  try {
    if (alg === "HS256") {
      const { payload } = await jwtVerify(token, await hmacKey(keys.jwtSecret), {
        algorithms: ["HS256"],
      });
      return payload as Claims;
    }
    if (alg === "ES256") {
      const { payload } = await jwtVerify(token, localJwks(keys), { algorithms: ["ES256"] });
      return payload as Claims;
    }
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new JwtError("expired", "token has expired");
    if (error instanceof errors.JWSSignatureVerificationFailed)
      throw new JwtError("bad_signature", "invalid JWT: signature is invalid");
    throw new JwtError("malformed", `invalid JWT: ${(error as Error).message}`);
  }
  throw new JwtError("unsupported_alg", `invalid JWT: unsupported signing algorithm ${alg ?? "none"}`);
}

/** Signs claims as Auth does for user access tokens: ES256 with the stack's key, or HS256 with the secret. */
export async function signJwt(
  claims: Claims,
  keys: StackKeys,
  alg: "HS256" | "ES256" = "HS256",
): Promise<string> {
  const jwt = new SignJWT(claims);
  if (alg === "HS256") {
    return jwt.setProtectedHeader({ alg, typ: "JWT" }).sign(new TextEncoder().encode(keys.jwtSecret));
  }
  const key = await importJWK(keys.signingKey.privateJwk, "ES256");
  return jwt.setProtectedHeader({ alg, typ: "JWT", kid: keys.signingKey.kid }).sign(key);
}
