import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

/**
 * The local stack's keys. LOCAL DEVELOPMENT ONLY: generated on first start and kept in the
 * git-ignored `.roomkit/` folder (or made fresh per test run). Never use them in production.
 */
export interface StackKeys {
  /** HS256 secret: signs the anon/service_role API keys, and user tokens when `userTokenAlg` is HS256. */
  jwtSecret: string;
  /** HS256 JWT with `role: anon` (the legacy anon key). */
  anonKey: string;
  /** HS256 JWT with `role: service_role` (the legacy service_role key). */
  serviceRoleKey: string;
  /** `sb_publishable_…`: the gateway maps it to `anonKey`. */
  publishableKey: string;
  /** `sb_secret_…`: the gateway maps it to `serviceRoleKey`. */
  secretKey: string;
  /** ES256 key pair for asymmetric user tokens (published at `/auth/v1/.well-known/jwks.json`). */
  signingKey: { kid: string; privateJwk: JWK; publicJwk: JWK };
}

/** The legacy API keys last ten years, like the ones `supabase start` prints. */
const API_KEY_TTL_SECONDS = 10 * 365 * 24 * 3600;

async function apiKey(role: "anon" | "service_role", secret: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: "supabase-demo", role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(now)
    .setExpirationTime(now + API_KEY_TTL_SECONDS)
    .sign(new TextEncoder().encode(secret));
}

/** Fresh keys (used by tests, and by `loadOrCreateKeys` on first start). */
export async function generateKeys(): Promise<StackKeys> {
  const jwtSecret = randomBytes(32).toString("base64url");
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = randomUUID();
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig", key_ops: ["verify"] };
  return {
    jwtSecret,
    anonKey: await apiKey("anon", jwtSecret),
    serviceRoleKey: await apiKey("service_role", jwtSecret),
    publishableKey: `sb_publishable_${randomBytes(16).toString("base64url")}`,
    secretKey: `sb_secret_${randomBytes(16).toString("base64url")}`,
    signingKey: { kid, privateJwk, publicJwk },
  };
}

/** Keys from `file`, created there on first use so a restarted stack keeps its sessions valid. */
export async function loadOrCreateKeys(file: string): Promise<StackKeys> {
  if (existsSync(file)) return JSON.parse(await readFile(file, "utf8")) as StackKeys;
  const keys = await generateKeys();
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return keys;
}

/**
 * Maps an `apikey` to the legacy JWT the surfaces understand, as the CLI's Kong does:
 * `sb_secret_…` → service_role JWT, `sb_publishable_…` → anon JWT, a JWT key → itself.
 * Anything else is unknown (`undefined`). The one place `sb_` keys are resolved.
 *
 * @example
 * mapApiKey(keys.publishableKey, keys) === keys.anonKey
 */
export function mapApiKey(apikey: string, keys: StackKeys): string | undefined {
  if (apikey === keys.secretKey) return keys.serviceRoleKey;
  if (apikey === keys.publishableKey) return keys.anonKey;
  if (apikey === keys.anonKey || apikey === keys.serviceRoleKey) return apikey;
  return undefined;
}
