/**
 * Who is calling. Functions verify the caller's token themselves (defence in depth: `verify_jwt`
 * may be off, as it is for the LiveKit webhook), with the keys Supabase gives every function:
 *
 * - ES256/RS256 user tokens (hosted Supabase's default): the JWKS in `SUPABASE_JWKS`, else the
 *   project's public `<SUPABASE_URL>/auth/v1/.well-known/jwks.json` (fetched and cached by jose).
 * - HS256 tokens (legacy keys, `supabase start` user tokens): the `oct` key the CLI puts into
 *   `SUPABASE_JWKS`, or a `JWT_SECRET`/`SUPABASE_JWT_SECRET` secret. Hosted Supabase does not give
 *   functions the JWT secret, so there HS256 user tokens verify only when you set that secret.
 * - `sb_secret_…` keys (in `apikey` or as bearer) are the service role when they are one of
 *   `SUPABASE_SECRET_KEYS`; `sb_publishable_…` keys are anonymous.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { loadEnv, supabaseEnv } from "./env.ts";
import { ApiError } from "./errors.ts";

/** Claims of a Supabase access token. */
export interface Claims extends JWTPayload {
  role?: string;
  email?: string;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
}

/** The verified caller. */
export type Caller =
  | { kind: "user"; id: string; claims: Claims }
  | { kind: "service"; claims: Claims }
  | { kind: "anon"; claims: Claims };

/** Seconds of clock skew tolerated on `exp`/`nbf` (PostgREST allows 30 s). */
const CLOCK_TOLERANCE_SECONDS = 30;

interface KeyMaterial {
  hmacSecrets: Uint8Array[];
  local?: ReturnType<typeof createLocalJWKSet>;
  remote?: ReturnType<typeof createRemoteJWKSet>;
  secretKeys: Set<string>;
}

let material: KeyMaterial | undefined;

function base64UrlDecode(text: string): Uint8Array {
  const b64 = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function keys(): KeyMaterial {
  if (material) return material;
  const env = loadEnv(supabaseEnv);
  const hmacSecrets: Uint8Array[] = [];
  for (const secret of [env.JWT_SECRET, env.SUPABASE_JWT_SECRET]) {
    if (secret) hmacSecrets.push(new TextEncoder().encode(secret));
  }
  let local: KeyMaterial["local"];
  if (env.SUPABASE_JWKS) {
    try {
      const jwks = JSON.parse(env.SUPABASE_JWKS) as JSONWebKeySet;
      const asymmetric: JWK[] = [];
      for (const key of jwks.keys ?? []) {
        if (key.kty === "oct" && typeof key.k === "string") hmacSecrets.push(base64UrlDecode(key.k));
        else asymmetric.push(key);
      }
      if (asymmetric.length > 0) local = createLocalJWKSet({ keys: asymmetric });
    } catch (error) {
      console.error("SUPABASE_JWKS is not a valid JWKS; falling back to the project's JWKS endpoint", error);
    }
  }
  const remote = createRemoteJWKSet(new URL("/auth/v1/.well-known/jwks.json", env.SUPABASE_URL));
  const secretKeys = new Set<string>();
  if (env.SUPABASE_SECRET_KEYS) {
    try {
      for (const v of Object.values(JSON.parse(env.SUPABASE_SECRET_KEYS) as Record<string, unknown>))
        if (typeof v === "string") secretKeys.add(v);
    } catch {
      console.error(
        "SUPABASE_SECRET_KEYS is not a JSON object of keys; sb_secret_ keys will not be accepted",
      );
    }
  }
  material = { hmacSecrets, local, remote, secretKeys };
  return material;
}

const unauthenticated = (message: string) => new ApiError("not_authenticated", message);

async function verifyToken(token: string): Promise<Claims> {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw unauthenticated("Invalid token");
  }
  const k = keys();
  const options = { clockTolerance: CLOCK_TOLERANCE_SECONDS };
  try {
    if (alg === "HS256") {
      for (const secret of k.hmacSecrets) {
        try {
          return (await jwtVerify(token, secret, { ...options, algorithms: ["HS256"] })).payload as Claims;
        } catch (error) {
          if (!(error instanceof errors.JWSSignatureVerificationFailed)) throw error;
        }
      }
      throw unauthenticated("Invalid token");
    }
    if (alg === "ES256" || alg === "RS256") {
      if (k.local) {
        try {
          return (await jwtVerify(token, k.local, { ...options, algorithms: [alg] })).payload as Claims;
        } catch (error) {
          if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
        }
      }
      if (k.remote)
        return (await jwtVerify(token, k.remote, { ...options, algorithms: [alg] })).payload as Claims;
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof errors.JWTExpired) throw unauthenticated("Token has expired");
    throw unauthenticated("Invalid token");
  }
  throw unauthenticated("Invalid token");
}

function bearer(req: Request): string | undefined {
  const header = req.headers.get("authorization");
  const m = header ? /^bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m?.[1];
}

/**
 * The verified caller of `req`: a user (token with `sub`), the service role, or anonymous
 * (no token, the anon key, a publishable key). A token that does not verify is a 401.
 *
 * @example
 * const caller = await authenticate(req);
 * if (caller.kind === "user") console.log(caller.id);
 */
export async function authenticate(req: Request): Promise<Caller> {
  const token = bearer(req);
  const apikey = req.headers.get("apikey") ?? undefined;
  for (const candidate of [token, apikey]) {
    if (candidate?.startsWith("sb_secret_")) {
      if (keys().secretKeys.has(candidate)) return { kind: "service", claims: { role: "service_role" } };
      throw unauthenticated("Invalid API key");
    }
  }
  if (token === undefined || token.startsWith("sb_publishable_"))
    return { kind: "anon", claims: { role: "anon" } };
  const claims = await verifyToken(token);
  if (claims.role === "service_role") return { kind: "service", claims };
  if (typeof claims.sub === "string" && claims.sub !== "" && claims.role !== "anon")
    return { kind: "user", id: claims.sub, claims };
  return { kind: "anon", claims };
}

/** Anyone, verified: for public endpoints (a bad token is still a 401). */
export const allowAnyone = authenticate;

/**
 * A signed-in user, or 401 `not_authenticated`.
 *
 * @example
 * route({ method: "POST", path: "/", auth: requireUser, run: async ({ caller }) => … });
 */
export async function requireUser(req: Request): Promise<Extract<Caller, { kind: "user" }>> {
  const caller = await authenticate(req);
  if (caller.kind !== "user") throw unauthenticated("You must be signed in");
  return caller;
}

/**
 * The service role (legacy JWT or `sb_secret_` key), else 401/403: for endpoints only the system
 * calls (they spend money or act for everyone).
 *
 * @example
 * route({ method: "POST", path: "/", auth: requireServiceRole, run: async () => … });
 */
export async function requireServiceRole(req: Request): Promise<Extract<Caller, { kind: "service" }>> {
  const caller = await authenticate(req);
  if (caller.kind === "service") return caller;
  if (caller.kind === "anon") throw unauthenticated("The service role key is required");
  throw new ApiError("forbidden", "Only the service role can call this");
}

/**
 * A moderator: the service role, or a user whose `app_metadata.roomkit_admin` is true
 * (app_metadata is writable only with the service role, so users cannot grant it themselves).
 */
export async function requireModerator(req: Request): Promise<Caller> {
  const caller = await authenticate(req);
  if (caller.kind === "service") return caller;
  if (caller.kind === "user" && caller.claims.app_metadata?.roomkit_admin === true) return caller;
  if (caller.kind === "anon") throw unauthenticated("You must be signed in");
  throw new ApiError("forbidden", "Only moderators can remove participants");
}
