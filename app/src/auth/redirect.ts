import type { SupabaseClient } from "@supabase/supabase-js";

/**
 * What Auth put in the fragment when a mailed link (an invite, a magic link) sent the person here:
 * `GET /auth/v1/verify` answers 303 to `redirect_to` with the session, or the reason there is
 * none, as the whole fragment (`#access_token=…&refresh_token=…&type=invite`, or
 * `#error=…&error_code=…&error_description=…`). It replaces any hash route `redirect_to` had.
 */
export type AuthRedirect =
  | { type: string; accessToken: string; refreshToken: string; error?: undefined }
  | { error: string };

/**
 * Takes Auth's redirect out of the address bar, before anything else reads it: the current
 * history entry becomes the page to land on (`#/invites` after an invite link, else `#/`, as after
 * a sign-in link, `type=magiclink`), so the tokens are neither shown nor a step back in history.
 * Returns null when the fragment is a route.
 *
 * The app reads the fragment itself, with supabase-js's `detectSessionInUrl` off, because
 * supabase-js clears it with `location.hash = ""`: that leaves the tokens in the previous history
 * entry and drops the route.
 *
 * @example
 * const redirect = takeAuthRedirect();
 * const supabase = createClient(url, key, { auth: { detectSessionInUrl: false } });
 * const problem = redirect && (await completeAuthRedirect(supabase, redirect));
 */
export function takeAuthRedirect(): AuthRedirect | null {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const accessToken = params.get("access_token");
  const refreshToken = params.get("refresh_token");
  const error = params.get("error_description") || params.get("error_code") || params.get("error");
  if (!accessToken && !error) return null;
  const landing = accessToken && params.get("type") === "invite" ? "#/invites" : "#/";
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, "", `${pathname}${search}${landing}`);
  if (error || !refreshToken) return { error: error || "The link did not include a session." };
  return { type: params.get("type") ?? "", accessToken: accessToken!, refreshToken };
}

/**
 * Signs in with the session from Auth's redirect (supabase-js checks it with `GET /auth/v1/user`
 * and announces `SIGNED_IN`). Resolves with what to tell the person when the link did not sign
 * them in, else null.
 *
 * @example
 * const problem = await completeAuthRedirect(supabase, redirect);
 */
export async function completeAuthRedirect(
  supabase: SupabaseClient,
  redirect: AuthRedirect,
): Promise<string | null> {
  if (redirect.error !== undefined) return `The link did not sign you in: ${redirect.error}`;
  const { error } = await supabase.auth.setSession({
    access_token: redirect.accessToken,
    refresh_token: redirect.refreshToken,
  });
  return error ? `The link did not sign you in: ${error.message}` : null;
}
