/**
 * Acting as the caller in SQL, the one way every surface does it: the session becomes the
 * authenticator (so only the roles granted to it can be taken), then one `set_config` statement
 * sets the caller's role, `request.jwt.claims` and whatever else the surface passes,
 * transaction-locally. This is PostgREST's `PreQuery.hs txVarQuery`; Realtime's policy checks
 * do the same with `realtime.topic`.
 */
import type postgres from "postgres";

/**
 * The API roles' login role (granted anon, authenticated and service_role only). The stack's pool
 * user is a superuser, which may `SET ROLE` to anything; switching the session authorization to
 * the authenticator first makes `set_config('role', …)` fail with 42501 for any other role a
 * signed token names (postgres, supabase_auth_admin …), as on Supabase.
 */
export const AUTHENTICATOR_ROLE = "authenticator";

/** Who the request runs as: the token's role and its claims (with `role` in them). */
export interface Caller {
  role: string;
  claims: Record<string, unknown>;
}

/** Transaction-local settings around the role: `before` it (search_path, role settings), `after` it. */
export interface CallerSettings {
  before?: [string, string][];
  after?: [string, string][];
  /** Passed to postgres.js (`false` re-plans statements, e.g. after a migration). Default true. */
  prepare?: boolean;
}

/**
 * Makes the rest of the transaction run as `caller`. Must run inside a transaction: every
 * setting is `set_config(…, true)` and the session authorization is `set local`.
 *
 * @example
 * await sql.begin(async (tx) => {
 *   await actAsCaller(tx, { role: "authenticated", claims }, { after: [["request.method", "GET"]] });
 *   return tx`select auth.uid()`;
 * });
 */
export async function actAsCaller(
  tx: postgres.TransactionSql | postgres.ReservedSql,
  caller: Caller,
  options: CallerSettings = {},
): Promise<void> {
  const prepare = options.prepare ?? true;
  const settings: [string, string][] = [
    ...(options.before ?? []),
    ["role", caller.role],
    ["request.jwt.claims", JSON.stringify(caller.claims)],
    ...(options.after ?? []),
  ];
  const text = `select ${settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(", ")}`;
  await tx.unsafe(`set local session authorization ${AUTHENTICATOR_ROLE}`, [], { prepare });
  await tx.unsafe(text, settings.flat(), { prepare });
}
