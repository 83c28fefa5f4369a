import { randomUUID } from "node:crypto";
import type postgres from "postgres";
import type { Claims } from "../jwt.ts";

/**
 * Private-channel authorization by the project's own RLS policies on `realtime.messages`, the
 * way supabase/realtime `lib/realtime/tenants/authorization.ex` evaluates them:
 * - read: insert probe rows as the server's user, switch to the caller's role and claims with
 *   transaction-local `set_config`, select the probes back (visible = allowed), roll back;
 * - write: as the caller, insert a row per extension inside a savepoint; RLS violation
 *   (`42501`) = denied; roll back. Nothing is ever committed.
 * The switch goes through the authenticator (see {@link AUTHENTICATOR_ROLE}), so a token naming a
 * role the API may not use (postgres …) fails with an error, which callers treat as denied.
 */

/** Who is asking and for which topic (`Authorization` struct). */
export interface AuthContext {
  /** Sub-topic, without `realtime:`. */
  topic: string;
  role: string;
  claims: Claims;
  /** Request headers (the WS upgrade's `x-*` ones), exposed as `request.headers`. */
  headers: Record<string, string>;
}

export interface ReadPolicies {
  broadcastRead: boolean;
  /** Only evaluated when presence is wanted. */
  presenceRead: boolean;
}

export interface WritePolicies {
  broadcastWrite: boolean;
  presenceWrite: boolean;
}

/** Postgres `insufficient_privilege`: what an INSERT refused by RLS raises. */
const INSUFFICIENT_PRIVILEGE = "42501";
/**
 * The API roles' login role (granted anon, authenticated and service_role only). Our pool user is
 * a superuser, which may `SET ROLE` to anything; switching the session to the authenticator first
 * makes `set_config('role', …)` fail (42501) for any other role a signed token names, as the same
 * switch does in the REST surface (src/stack/rest/index.ts).
 */
const AUTHENTICATOR_ROLE = "authenticator";

/**
 * Becomes the caller: authenticator session, then the token's role, topic, claims and headers
 * (transaction-local). Two statements, returned unawaited so callers can pipeline them.
 */
function becomeCaller(tx: postgres.ReservedSql, ctx: AuthContext): Promise<unknown>[] {
  return [
    tx.unsafe(`set local session authorization ${AUTHENTICATOR_ROLE}`),
    tx`select set_config('role', ${ctx.role}, true),
              set_config('realtime.topic', ${ctx.topic}, true),
              set_config('request.jwt.claims', ${JSON.stringify(ctx.claims)}, true),
              set_config('request.headers', ${JSON.stringify(ctx.headers)}, true)`,
  ];
}

/**
 * Runs `steps`, queries on one reserved connection, back to back: postgres.js runs a query when
 * it is first awaited, so handing them to `Promise.allSettled` in order writes them in one go
 * (pipelined: one round trip, not one per statement). Waits for all of them, so none is left
 * running when the connection is released. The last step must be the `rollback`; the result says
 * whether it went through (the connection is clean) and which steps failed.
 */
async function pipelined(
  steps: Promise<unknown>[],
): Promise<{ clean: boolean; settled: PromiseSettledResult<unknown>[] }> {
  const settled = await Promise.allSettled(steps);
  return { clean: settled.at(-1)?.status === "fulfilled", settled };
}

const codeOf = (error: unknown) => (error as { code?: string }).code;

/**
 * Evaluates the SELECT policies for broadcast (and presence) on a topic. Throws on a policy
 * error (bad SQL, unknown role, a role the authenticator cannot become): callers map that to
 * Unauthorized, as Supabase does.
 *
 * @example
 * const { broadcastRead } = await readPolicies(sql, { topic: "room:1", role: "authenticated", claims, headers: {} });
 */
export async function readPolicies(
  sql: postgres.Sql,
  ctx: AuthContext,
  withPresence: boolean,
): Promise<ReadPolicies> {
  const tx = await sql.reserve();
  let clean = false;
  try {
    const broadcastId = randomUUID();
    const presenceId = randomUUID();
    const select = tx<{ id: string }[]>`
      select id from realtime.messages
      where topic = ${ctx.topic}
        and ((extension = 'broadcast' and id = ${broadcastId}) or (extension = 'presence' and id = ${presenceId}))`;
    // On a busy stack a join's cost is mostly round trips: these six statements go as one
    // (bench/fanout.ts, channel_join_auth_ms).
    const run = await pipelined([
      tx`begin`,
      tx`insert into realtime.messages (id, topic, extension)
         values (${broadcastId}, ${ctx.topic}, 'broadcast'), (${presenceId}, ${ctx.topic}, 'presence')`,
      ...becomeCaller(tx, ctx),
      select,
      tx`rollback`,
    ]);
    clean = run.clean;
    for (const r of run.settled) if (r.status === "rejected") throw r.reason;
    const seen = new Set((await select).map((r) => r.id));
    return { broadcastRead: seen.has(broadcastId), presenceRead: withPresence && seen.has(presenceId) };
  } finally {
    if (!clean) await tx`rollback`.catch(() => {});
    tx.release();
  }
}

/**
 * Evaluates the INSERT policies for broadcast and presence on a topic. Throws like
 * {@link readPolicies}; callers treat that as no write permission.
 *
 * @example
 * const { broadcastWrite } = await writePolicies(sql, ctx);
 */
export async function writePolicies(sql: postgres.Sql, ctx: AuthContext): Promise<WritePolicies> {
  const tx = await sql.reserve();
  let clean = false;
  try {
    // Each probe in its own savepoint, so a refusal (42501) does not abort the other; all pipelined.
    const probe = (extension: "broadcast" | "presence") =>
      tx`insert into realtime.messages (topic, extension) values (${ctx.topic}, ${extension})`;
    const broadcast = probe("broadcast");
    const presence = probe("presence");
    const steps = [
      tx`begin`,
      ...becomeCaller(tx, ctx),
      tx`savepoint probe`,
      broadcast,
      tx`rollback to savepoint probe`,
      presence,
      tx`rollback to savepoint probe`,
      tx`rollback`,
    ];
    const run = await pipelined(steps);
    clean = run.clean;
    const isProbe = (i: number) => steps[i] === broadcast || steps[i] === presence;
    // A probe refused by RLS (42501) is a "no"; any other failure (a role the authenticator
    // cannot become …) throws, as before.
    run.settled.forEach((r, i) => {
      if (r.status === "rejected" && !(isProbe(i) && codeOf(r.reason) === INSUFFICIENT_PRIVILEGE))
        throw r.reason;
    });
    const allowed = (p: Promise<unknown>) => run.settled[steps.indexOf(p)]?.status === "fulfilled";
    return { broadcastWrite: allowed(broadcast), presenceWrite: allowed(presence) };
  } finally {
    if (!clean) await tx`rollback`.catch(() => {});
    tx.release();
  }
}
