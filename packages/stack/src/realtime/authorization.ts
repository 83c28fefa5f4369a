import { randomUUID } from "node:crypto";
import type postgres from "postgres";
import { actAsCaller } from "../caller.ts";
import type { Claims } from "../jwt.ts";

/**
 * Private-channel authorization by the project's own RLS policies on `realtime.messages`, the
 * way supabase/realtime `lib/realtime/tenants/authorization.ex` evaluates them:
 * - read: insert probe rows as the server's user, switch to the caller's role and claims with
 *   transaction-local `set_config`, select the probes back (visible = allowed), roll back;
 * - write: as the caller, insert a row per extension inside a savepoint; RLS violation
 *   (`42501`) = denied; roll back. Nothing is ever committed.
 * The switch goes through the authenticator (`actAsCaller` in ../caller.ts), so a token naming a
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
/** Becomes the caller (`actAsCaller`) with the channel's topic and the socket's headers. */
async function becomeCaller(tx: postgres.ReservedSql, ctx: AuthContext): Promise<void> {
  await actAsCaller(tx, ctx, {
    after: [
      ["realtime.topic", ctx.topic],
      ["request.headers", JSON.stringify(ctx.headers)],
    ],
  });
}

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
  try {
    await tx`begin`;
    const broadcastId = randomUUID();
    const presenceId = randomUUID();
    await tx`insert into realtime.messages (id, topic, extension)
             values (${broadcastId}, ${ctx.topic}, 'broadcast'), (${presenceId}, ${ctx.topic}, 'presence')`;
    await becomeCaller(tx, ctx);
    const rows = await tx<{ id: string }[]>`
      select id from realtime.messages
      where topic = ${ctx.topic}
        and ((extension = 'broadcast' and id = ${broadcastId}) or (extension = 'presence' and id = ${presenceId}))`;
    const seen = new Set(rows.map((r) => r.id));
    return { broadcastRead: seen.has(broadcastId), presenceRead: withPresence && seen.has(presenceId) };
  } finally {
    await tx`rollback`.catch(() => {});
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
  try {
    await tx`begin`;
    await becomeCaller(tx, ctx);
    const canInsert = async (extension: "broadcast" | "presence"): Promise<boolean> => {
      await tx`savepoint probe`;
      try {
        await tx`insert into realtime.messages (topic, extension) values (${ctx.topic}, ${extension})`;
        return true;
      } catch (error) {
        if ((error as { code?: string }).code === INSUFFICIENT_PRIVILEGE) return false;
        throw error;
      } finally {
        await tx`rollback to savepoint probe`;
      }
    };
    const broadcastWrite = await canInsert("broadcast");
    const presenceWrite = await canInsert("presence");
    return { broadcastWrite, presenceWrite };
  } finally {
    await tx`rollback`.catch(() => {});
    tx.release();
  }
}
