import type postgres from "postgres";
import type { Sql } from "./db.ts";
import type { User } from "./users.ts";

/**
 * Acting as someone in SQL, exactly as PostgREST runs a request: a transaction with the role and
 * JWT claims set, for the RLS matrix, the SQL functions' rules and arranging rows through them.
 */

/** A transaction handle from `sql.begin` (postgres.js). */
export type Tx = postgres.TransactionSql;

/** Who runs a statement: a signed-in user, the anonymous API role, or the service role. */
export type Actor = User | { kind: "anon" } | { kind: "service" };

export type { User };

/** The anonymous API role, as PostgREST runs a request without a user JWT. */
export const ANON: Actor = { kind: "anon" };
/** The service role (BYPASSRLS), as PostgREST runs a request with the service_role key. */
export const SERVICE: Actor = { kind: "service" };

/** The database role PostgREST switches to for this actor (the JWT's `role` claim). */
export function roleOf(actor: Actor): "anon" | "authenticated" | "service_role" {
  return actor.kind === "user" ? "authenticated" : actor.kind === "anon" ? "anon" : "service_role";
}

/**
 * The JWT claims PostgREST would put in `request.jwt.claims` for this actor: a Supabase Auth
 * access token for users (sub, role, aud, email …), `{"role":"anon"}` without a user token, and
 * the service_role key's claims. User claims carry no `session_id`, like a token minted by server
 * code: Roomkit's policies check a `session_id` against `auth.sessions` (sign-out), which
 * test/stack/sign-out tests through the stack's real Auth.
 */
export function claimsOf(actor: Actor): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  if (actor.kind === "user") {
    return {
      sub: actor.id,
      role: "authenticated",
      aud: "authenticated",
      email: actor.email,
      iat: now,
      exp: now + 3600,
      aal: "aal1",
      is_anonymous: false,
    };
  }
  return { role: roleOf(actor), iss: "supabase", iat: now, exp: now + 3600 };
}

/**
 * Sets, inside the current transaction, what PostgREST sets for a request (`set_config(…, true)`:
 * role, request.jwt.claims) plus the per-claim GUCs Supabase Realtime also sets. Extra GUCs
 * (e.g. `realtime.topic`) can be added.
 */
export async function impersonate(tx: Tx, actor: Actor, extra: Record<string, string> = {}): Promise<void> {
  const claims = claimsOf(actor);
  const settings: [string, string][] = Object.entries({
    role: roleOf(actor),
    "request.jwt.claims": JSON.stringify(claims),
    "request.jwt.claim.sub": typeof claims.sub === "string" ? claims.sub : "",
    "request.jwt.claim.role": roleOf(actor),
    "request.method": "POST",
    ...extra,
  });
  // One statement, like PostgREST's single `select set_config(…)` pre-request query.
  const list = settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(", ");
  await tx.unsafe(`select ${list}`, settings.flat());
}

/** Thrown inside a transaction to roll it back after the result was taken. */
class Rollback<T> extends Error {
  constructor(readonly value: T) {
    super("rollback");
  }
}

/**
 * Runs `fn` as `actor` in one transaction, exactly like one PostgREST request. With
 * `{ rollback: true }` the transaction is rolled back afterwards (for probing rights without
 * changing the fixture).
 *
 * @example
 * const room = await as(db.sql, ada, (tx) => tx`select * from roomkit.create_private_room('Team')`);
 */
export async function as<T>(
  sql: Sql,
  actor: Actor,
  fn: (tx: Tx) => Promise<T>,
  options: { rollback?: boolean } = {},
): Promise<T> {
  try {
    return (await sql.begin(async (tx) => {
      await impersonate(tx, actor);
      const value = await fn(tx);
      if (options.rollback) throw new Rollback(value);
      return value;
    })) as T;
  } catch (error) {
    if (error instanceof Rollback) return error.value as T;
    throw error;
  }
}

/** A Postgres error as a test wants to see it: the SQLSTATE and the Roomkit code in the hint. */
export interface DbError {
  code: string;
  hint: string | undefined;
  message: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: DbError };

/** Like {@link as}, but returns the error instead of throwing, so tests can assert SQLSTATE and hint. */
export async function attempt<T>(
  sql: Sql,
  actor: Actor,
  fn: (tx: Tx) => Promise<T>,
  options: { rollback?: boolean } = {},
): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await as(sql, actor, fn, options) };
  } catch (error) {
    return { ok: false, error: toDbError(error) };
  }
}

/** The SQLSTATE/hint/message of a postgres.js error; rethrows anything that is not a database error. */
export function toDbError(error: unknown): DbError {
  const e = error as { code?: unknown; hint?: unknown; message?: unknown; name?: unknown };
  if (e && typeof e.code === "string" && e.name === "PostgresError") {
    return {
      code: e.code,
      hint: typeof e.hint === "string" ? e.hint : undefined,
      message: String(e.message),
    };
  }
  throw error;
}

/**
 * Calls a Roomkit SQL function as `actor` the way `supabase.rpc(name, args)` does (named
 * arguments), returning the error code and hint on failure.
 *
 * @example
 * const r = await rpc(db.sql, ada, "join_coworking_room", { room_id });
 * expect(r).toMatchObject({ ok: false, error: { code: "PT409", hint: "room_full" } });
 */
export async function rpc<T = Record<string, unknown>>(
  sql: Sql,
  actor: Actor,
  fn: string,
  args: Record<string, unknown> = {},
): Promise<Outcome<T[]>> {
  if (!/^[a-z_]+$/.test(fn)) throw new Error(`bad function name ${fn}`);
  const names = Object.keys(args);
  for (const n of names) if (!/^[a-z_]+$/.test(n)) throw new Error(`bad argument name ${n}`);
  const call = `select * from roomkit.${fn}(${names.map((n, i) => `${n} => $${i + 1}`).join(", ")})`;
  const values = names.map((n) => args[n]) as postgres.ParameterOrJSON<never>[];
  return attempt(sql, actor, async (tx) => (await tx.unsafe(call, values)) as unknown as T[]);
}

/** {@link rpc}, throwing on failure and returning the first row: for arranging fixtures. */
export async function rpcOk<T = Record<string, unknown>>(
  sql: Sql,
  actor: Actor,
  fn: string,
  args: Record<string, unknown> = {},
): Promise<T> {
  const r = await rpc<T>(sql, actor, fn, args);
  if (!r.ok) throw new Error(`${fn} failed: ${r.error.code} ${r.error.hint ?? ""} ${r.error.message}`);
  return r.value[0] as T;
}
