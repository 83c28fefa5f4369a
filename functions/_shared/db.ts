/**
 * Postgres access for functions (postgres.js on `SUPABASE_DB_URL`). Every query runs inside a
 * transaction that first takes on a role, like PostgREST does, so RLS and the SQL functions'
 * own checks apply: `asUser` for the caller, `asService` (explicitly) where a function acts as
 * the system.
 */
import postgres from "postgres";
import type { Caller, Claims } from "./auth.ts";
import { codeForStatus, isErrorCode } from "./contract.ts";
import { loadEnv, supabaseEnv } from "./env.ts";
import { ApiError } from "./errors.ts";

export type Tx = postgres.TransactionSql;

/** Connections per function instance; the SQL functions lock rows, so callers queue in Postgres. */
const POOL_SIZE = 10;

let pool: postgres.Sql | undefined;

/** The shared connection pool (created on first use). */
export function sql(): postgres.Sql {
  pool ??= postgres(loadEnv(supabaseEnv).SUPABASE_DB_URL, {
    max: POOL_SIZE,
    // Hosted SUPABASE_DB_URL may point at the transaction pooler, which cannot keep prepared statements.
    prepare: false,
    idle_timeout: 30,
    onnotice: () => {},
    connection: { application_name: "roomkit-functions" },
  });
  return pool;
}

const API_ROLES = new Set(["anon", "authenticated", "service_role"]);

async function asRole<T>(role: string, claims: Claims, work: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    return (await sql().begin(async (tx) => {
      // set_config(…, true) is `set local`: both end with this transaction, as in PostgREST.
      await tx`select set_config('role', ${role}, true), set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
      return work(tx);
    })) as T;
  } catch (error) {
    throw mapDbError(error, role);
  }
}

/**
 * Runs `work` in one transaction as the caller: role `authenticated` (or `anon`) with their JWT
 * claims in `request.jwt.claims`, so `auth.uid()` and RLS see them.
 *
 * @example
 * const [invite] = await asUser(caller, (tx) => tx`select * from roomkit.send_invite(${roomId}, ${userId})`);
 */
export function asUser<T>(caller: Caller, work: (tx: Tx) => Promise<T>): Promise<T> {
  const role = caller.kind === "user" ? "authenticated" : caller.kind === "service" ? "service_role" : "anon";
  const claimed = caller.claims.role;
  if (
    caller.kind === "user" &&
    claimed !== undefined &&
    claimed !== "authenticated" &&
    !API_ROLES.has(claimed)
  )
    return Promise.reject(new ApiError("forbidden", "Unsupported role in token"));
  return asRole(role, { ...caller.claims, role }, work);
}

/**
 * Runs `work` as the service role (bypasses RLS). Only for what the system itself does:
 * LiveKit webhooks, moderation, AI replies.
 *
 * @example
 * await asService((tx) => tx`update roomkit.room_members set voice_connected = false where room_id = ${id}`);
 */
export function asService<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
  return asRole("service_role", { role: "service_role" }, work);
}

/**
 * The status PostgREST answers for the SQLSTATEs Roomkit meets on purpose (PostgREST `Error.hs`
 * `pgErrorStatus`; `PTxyz` is status xyz, see `statusOf`), so a SQL function's error reads the same
 * through a function as through `rpc`. Anything else is a bug and becomes a generic 500.
 */
const SQLSTATE_STATUS: Record<string, number> = {
  "42501": 403,
  "22023": 400,
  "22P02": 400,
  "22001": 400,
  "22003": 400,
  "22007": 400,
  "22008": 400,
  "23502": 400,
  "23514": 400,
  P0001: 400,
  "23503": 409,
  "23505": 409,
};

function statusOf(state: string): number | undefined {
  const explicit = /^PT([1-5]\d\d)$/.exec(state)?.[1];
  return explicit === undefined ? SQLSTATE_STATUS[state] : Number(explicit);
}

interface PgErrorLike {
  name?: string;
  code?: unknown;
  hint?: unknown;
  message: string;
  severity?: unknown;
}

function isPgError(error: unknown): error is PgErrorLike {
  return (
    error instanceof Error &&
    typeof (error as PgErrorLike).code === "string" &&
    (error as PgErrorLike).severity !== undefined
  );
}

/**
 * Maps a Postgres error raised on purpose (SQLSTATE + HINT code) to an `ApiError` with the status
 * PostgREST would answer; anything else is returned unchanged (and becomes a generic 500). 42501
 * reaches a signed-out caller (role `anon`, or the hint `not_authenticated`) as 401
 * `not_authenticated`, whatever the hint, as PostgREST answers it.
 *
 * @example
 * mapDbError(pgError); // PT409 + hint room_full → ApiError { code: "room_full", status: 409 }
 */
export function mapDbError(error: unknown, role = "authenticated"): unknown {
  if (!isPgError(error)) return error;
  const state = error.code as string;
  const hint = isErrorCode(error.hint) ? error.hint : undefined;
  const signedOut = state === "42501" && (hint === "not_authenticated" || role === "anon");
  const status = signedOut ? 401 : statusOf(state);
  if (status === undefined) return error;
  const code = signedOut ? "not_authenticated" : (hint ?? codeForStatus(status));
  if (code === undefined) return error;
  // Roomkit's SQL functions write deliberate, user-facing messages; constraint names are not.
  const message = hint !== undefined || state.startsWith("PT") ? error.message : defaultMessage(status);
  return new ApiError(code, message, { status, cause: error });
}

function defaultMessage(status: number): string {
  if (status === 400) return "Invalid input";
  if (status === 401) return "You must be signed in";
  if (status === 403) return "Not allowed";
  if (status === 404) return "Not found";
  return "Conflict";
}
