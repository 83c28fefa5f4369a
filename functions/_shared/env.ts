/**
 * Configuration from the environment, validated with zod once per schema (at module load of the
 * function that needs it, so a missing variable shows up as a boot error naming it).
 */
import { z } from "zod";

/** What Supabase gives every function (hosted and `supabase functions serve`), plus optional secrets. */
export const supabaseEnv = z.object({
  SUPABASE_URL: z.url(),
  SUPABASE_DB_URL: z.string().min(1),
  SUPABASE_ANON_KEY: z.string().min(1).optional(),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1).optional(),
  /** JSON JWKS of the project's verification keys (CLI and platform provision it). */
  SUPABASE_JWKS: z.string().min(1).optional(),
  /** JSON `{"default": "sb_secret_…"}` (new API keys). */
  SUPABASE_SECRET_KEYS: z.string().min(1).optional(),
  /** HS256 project secret, set as a function secret when legacy user tokens must verify without a JWKS. */
  JWT_SECRET: z.string().min(1).optional(),
  SUPABASE_JWT_SECRET: z.string().min(1).optional(),
});
export type SupabaseEnv = z.infer<typeof supabaseEnv>;

/** LiveKit credentials (secrets). `LIVEKIT_URL` is what clients connect to (wss://… or ws://…). */
export const livekitEnv = z.object({
  LIVEKIT_URL: z.string().regex(/^(wss?|https?):\/\//, "must be a ws(s):// or http(s):// URL"),
  LIVEKIT_API_KEY: z.string().min(1),
  LIVEKIT_API_SECRET: z.string().min(1),
});
export type LivekitEnv = z.infer<typeof livekitEnv>;

/**
 * Where notifications go (the `notify` function). Every part is optional: without VAPID keys there
 * is no Web Push, without an email API key no mail to people who already have an account (invites
 * to new addresses always go through Auth's own invite mail).
 */
export const notifyEnv = z.object({
  /** VAPID key pair (base64url: the uncompressed P-256 point, and the private scalar). */
  VAPID_PUBLIC_KEY: z.string().min(1).optional(),
  VAPID_PRIVATE_KEY: z.string().min(1).optional(),
  /** Who push services may contact about our pushes: `mailto:` or an `https:` URL. */
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:\/\/)/, "must start with mailto: or https://")
    .optional(),
  /**
   * Comma-separated origins pushes may be sent to. Default: the browsers' push services. A
   * subscription naming any other origin is never called (it would let a user aim our requests
   * anywhere).
   */
  ROOMKIT_PUSH_ORIGINS: z.string().optional(),
  /** An email API shaped like Resend's `POST /emails` (Bearer key, JSON `{from,to,subject,html,text}`). */
  ROOMKIT_EMAIL_API_URL: z.url().default("https://api.resend.com/emails"),
  ROOMKIT_EMAIL_API_KEY: z.string().min(1).optional(),
  ROOMKIT_EMAIL_FROM: z.string().min(3).default("Roomkit <notifications@roomkit.dev>"),
  /** The app's address: links in mails and pushes point there (`<url>#/rooms/<id>`). */
  ROOMKIT_APP_URL: z.url().optional(),
});
export type NotifyEnv = z.infer<typeof notifyEnv>;

/** A misconfiguration: the message names every missing or invalid variable. */
export class EnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnvError";
  }
}

const cache = new Map<z.ZodType, unknown>();

/**
 * Reads and validates `schema` from `source` (default: the process environment), once.
 *
 * @example
 * const { SUPABASE_DB_URL } = loadEnv(supabaseEnv);
 */
export function loadEnv<S extends z.ZodType>(
  schema: S,
  source?: Record<string, string | undefined>,
): z.infer<S> {
  if (source === undefined && cache.has(schema)) return cache.get(schema) as z.infer<S>;
  const values = source ?? readProcessEnv();
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = i.path.join(".");
      return values[name] === undefined ? `${name} is not set` : `${name} ${i.message}`;
    });
    throw new EnvError(`Invalid function configuration: ${problems.join("; ")}`);
  }
  if (source === undefined) cache.set(schema, parsed.data);
  return parsed.data;
}

function readProcessEnv(): Record<string, string | undefined> {
  const deno = (globalThis as { Deno?: { env: { toObject(): Record<string, string> } } }).Deno;
  if (deno) return deno.env.toObject();
  const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process;
  return proc?.env ?? {};
}
