/**
 * Invites an address that has no account through Supabase Auth (`POST /auth/v1/invite`, the admin
 * API behind `supabase.auth.admin.inviteUserByEmail`): Auth creates the user and sends its "invite"
 * mail through the project's SMTP settings and template. The template can name the room and the
 * inviter as `{{ .Data.invited_to_room }}` and `{{ .Data.invited_by }}`. Once the person follows
 * the link they are signed in, and their pending invite is waiting for them.
 */
import { loadEnv, notifyEnv, supabaseEnv } from "../_shared/env.ts";

/** `sent`; `exists` (the address was confirmed meanwhile: try again as a member); `refused`; `failed` (retry). */
export type AuthInviteResult = "sent" | "exists" | "refused" | "failed";

const TIMEOUT_MS = 10_000;

function serviceKey(): string | undefined {
  const env = loadEnv(supabaseEnv);
  if (env.SUPABASE_SERVICE_ROLE_KEY) return env.SUPABASE_SERVICE_ROLE_KEY;
  try {
    const keys = JSON.parse(env.SUPABASE_SECRET_KEYS ?? "{}") as Record<string, unknown>;
    const key = keys.default ?? Object.values(keys)[0];
    return typeof key === "string" ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @example
 * await inviteByAuth("new@example.com", { invited_to_room: "Book club", invited_by: "Ada" });
 */
export async function inviteByAuth(
  email: string,
  data: { invited_to_room: string; invited_by: string },
): Promise<AuthInviteResult> {
  const key = serviceKey();
  if (!key) return "refused";
  const url = new URL("/auth/v1/invite", loadEnv(supabaseEnv).SUPABASE_URL);
  const appUrl = loadEnv(notifyEnv).ROOMKIT_APP_URL;
  if (appUrl) url.searchParams.set("redirect_to", appUrl);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { apikey: key, authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ email, data }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const body = (await res.json().catch(() => ({}))) as { error_code?: string };
    if (res.ok) return "sent";
    if (res.status === 422 && body.error_code === "email_exists") return "exists";
    return res.status === 429 || res.status >= 500 ? "failed" : "refused";
  } catch {
    return "failed";
  }
}
