import { randomInt, randomUUID } from "node:crypto";
import type postgres from "postgres";
import { type Claims, signJwt } from "../jwt.ts";
import type { StackKeys } from "../keys.ts";
import { E } from "./errors.ts";
import { findUserById, INSTANCE_ID, type UserRow } from "./users.ts";

type Sql = postgres.Sql | postgres.TransactionSql;

/** GoTrue's refresh tokens (algorithm v1): 12 random alphanumerics (`models/refresh_token.go`). */
const REFRESH_TOKEN_LENGTH = 12;
const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export interface TokenSettings {
  keys: StackKeys;
  alg: "HS256" | "ES256";
  /** `iss` of access tokens: `<API URL>/auth/v1` (the CLI's `auth.external_url`). */
  issuer: string;
  ttlSeconds: number;
  /** `[auth] enable_refresh_token_rotation`: off, a used token stays valid (no reuse detection). */
  rotation: boolean;
  reuseIntervalSeconds: number;
}

/** The session JSON of `/token` and `/signup` (GoTrue `AccessTokenResponse`). */
export interface SessionResponse {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: Record<string, unknown>;
}

interface SessionRow {
  id: string;
  created_at: Date;
}

function newRefreshToken(): string {
  let token = "";
  for (let i = 0; i < REFRESH_TOKEN_LENGTH; i++) token += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return token;
}

/** How a session was signed in (GoTrue `models.AuthenticationMethod`), recorded for `amr`. */
export type SignInMethod = "password" | "otp" | "anonymous";

/** A session's `amr` entries: its rows in `auth.mfa_amr_claims`, oldest first. */
async function amrOf(sql: Sql, session: SessionRow): Promise<{ method: string; timestamp: number }[]> {
  const rows = await sql.unsafe<{ authentication_method: string; created_at: Date }[]>(
    `select authentication_method, created_at from auth.mfa_amr_claims where session_id = $1 order by created_at`,
    [session.id],
  );
  return rows.map((r) => ({
    method: r.authentication_method,
    timestamp: Math.floor(r.created_at.getTime() / 1000),
  }));
}

/** Signs an access token with GoTrue's claims for `user` in `session`. */
export async function accessToken(
  settings: TokenSettings,
  user: UserRow,
  session: SessionRow,
  amr: { method: string; timestamp: number }[],
): Promise<{ token: string; expiresAt: number }> {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + settings.ttlSeconds;
  const claims: Claims = {
    iss: settings.issuer,
    sub: user.id,
    aud: user.aud ?? "authenticated",
    exp,
    iat,
    email: user.email ?? "",
    phone: user.phone ?? "",
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    role: user.role ?? "authenticated",
    aal: "aal1",
    amr,
    session_id: session.id,
    is_anonymous: user.is_anonymous,
  };
  return { token: await signJwt(claims, settings.keys, settings.alg), expiresAt: exp };
}

async function insertRefreshToken(
  sql: Sql,
  userId: string,
  sessionId: string,
  parent: string | null,
): Promise<string> {
  const token = newRefreshToken();
  await sql.unsafe(
    `insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
     values ($1, $2, $3, false, now(), now(), $4, $5)`,
    [INSTANCE_ID, token, userId, parent, sessionId],
  );
  return token;
}

/**
 * A new session for a user who just signed in or up: `auth.sessions` row, first refresh token,
 * access token; `last_sign_in_at` updated (GoTrue `IssueRefreshToken`).
 */
export async function issueSession(
  sql: Sql,
  settings: TokenSettings,
  userId: string,
  meta: { userAgent?: string | undefined; ip?: string | undefined },
  toJson: (user: UserRow) => Promise<Record<string, unknown>>,
  method: SignInMethod = "password",
): Promise<SessionResponse> {
  await sql.unsafe(`update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1`, [
    userId,
  ]);
  const user = await findUserById(sql, userId);
  if (!user) throw E.userNotFound();
  const sessionId = randomUUID();
  const [session] = await sql.unsafe<SessionRow[]>(
    `insert into auth.sessions (id, user_id, created_at, updated_at, aal, refreshed_at, user_agent, ip)
     values ($1, $2, now(), now(), 'aal1', null, $3, $4::inet) returning id, created_at`,
    [sessionId, userId, meta.userAgent ?? null, meta.ip ?? null],
  );
  await sql.unsafe(
    `insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
     values ($1, $2, $3, $3, $4)`,
    [randomUUID(), sessionId, session!.created_at, method],
  );
  const refresh = await insertRefreshToken(sql, userId, sessionId, null);
  const { token, expiresAt } = await accessToken(settings, user, session!, await amrOf(sql, session!));
  return {
    access_token: token,
    token_type: "bearer",
    expires_in: settings.ttlSeconds,
    expires_at: expiresAt,
    refresh_token: refresh,
    user: await toJson(user),
  };
}

/**
 * The refresh-token grant with rotation, as GoTrue's `RefreshTokenGrant`:
 * - an active token is revoked and swapped for a child;
 * - a revoked token that is the parent of the session's active token returns that active token
 *   (the client lost the previous answer);
 * - any other revoked token is accepted within the reuse interval, else the whole session's
 *   token family is revoked and the answer is `refresh_token_already_used`.
 */
export async function refreshSession(
  sql: postgres.Sql,
  settings: TokenSettings,
  refreshToken: string,
  toJson: (user: UserRow) => Promise<Record<string, unknown>>,
): Promise<SessionResponse> {
  const outcome = await sql.begin(async (tx) => {
    const [row] = await tx.unsafe<
      { id: string; token: string; revoked: boolean; updated_at: Date; session_id: string; user_id: string }[]
    >(
      `select id::text, token, coalesce(revoked, false) as revoked, updated_at, session_id, user_id
         from auth.refresh_tokens where instance_id = $1 and token = $2 for update`,
      [INSTANCE_ID, refreshToken],
    );
    if (!row?.session_id) return { error: E.refreshTokenNotFound() };
    const [session] = await tx.unsafe<SessionRow[]>(
      `select id, created_at from auth.sessions where id = $1 for update`,
      [row.session_id],
    );
    const user = await findUserById(tx, row.user_id);
    if (!session || !user) return { error: E.refreshTokenNotFound() };
    if (user.banned_until && user.banned_until > new Date()) return { error: E.userBanned() };

    let issued: string | undefined;
    if (row.revoked) {
      const [active] = await tx.unsafe<{ token: string; parent: string | null }[]>(
        `select token, parent from auth.refresh_tokens
          where session_id = $1 and not coalesce(revoked, false) order by id desc limit 1`,
        [row.session_id],
      );
      if (active && active.parent === row.token) {
        issued = active.token;
      } else if (
        settings.rotation &&
        Date.now() > row.updated_at.getTime() + settings.reuseIntervalSeconds * 1000
      ) {
        await tx.unsafe(
          `update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = $1 and not coalesce(revoked, false)`,
          [row.session_id],
        );
        // Committed on purpose: GoTrue keeps the revocation even though the request fails.
        return { error: E.refreshTokenAlreadyUsed() };
      }
    }
    if (issued === undefined) {
      if (!row.revoked) {
        await tx.unsafe(`update auth.refresh_tokens set revoked = true, updated_at = now() where id = $1`, [
          row.id,
        ]);
      }
      issued = await insertRefreshToken(tx, row.user_id, row.session_id, row.token);
    }
    await tx.unsafe(
      `update auth.sessions set refreshed_at = now() at time zone 'utc', updated_at = now() where id = $1`,
      [row.session_id],
    );
    const { token, expiresAt } = await accessToken(settings, user, session, await amrOf(tx, session));
    const response: SessionResponse = {
      access_token: token,
      token_type: "bearer",
      expires_in: settings.ttlSeconds,
      expires_at: expiresAt,
      refresh_token: issued,
      user: await toJson(user),
    };
    return { response };
  });
  if ("error" in outcome && outcome.error) throw outcome.error;
  return (outcome as { response: SessionResponse }).response;
}
