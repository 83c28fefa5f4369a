/**
 * What every Auth route shares, built once per surface: the pool, one transaction as GoTrue's
 * database role, the token settings, the request body reader, the checks of `/user` (a valid
 * user token) and `/admin` (an admin role), passwords, and the user JSON.
 */
import type { IncomingMessage } from "node:http";
import bcrypt from "bcryptjs";
import postgres from "postgres";
import type { AuthConfig } from "../config.ts";
import { BodyError, bearerToken, isConnectionError, readJson } from "../http.ts";
import type { Mailer } from "../inbox.ts";
import { type Claims, JwtError, verifyJwt } from "../jwt.ts";
import type { StackContext } from "../surface.ts";
import { type AuthError, E } from "./errors.ts";
import { asObject, type Json } from "./params.ts";
import type { TokenSettings } from "./sessions.ts";
import { findUserById, identitiesOf, type UserRow, userJson } from "./users.ts";

/** bcrypt reads at most 72 bytes; GoTrue refuses longer passwords (`api/password.go`). */
const MAX_PASSWORD_LENGTH = 72;
/** GoTrue hashes with bcrypt's default cost (`crypto/password.go`). */
const BCRYPT_COST = 10;
/** Roles allowed on `/admin/*` (`GOTRUE_JWT_ADMIN_ROLES` default). */
const ADMIN_ROLES = new Set(["service_role", "supabase_admin"]);
/** JSON bodies GoTrue accepts are small; this cap only guards the process. */
const BODY_LIMIT_BYTES = 256 * 1024;
/** Role GoTrue connects as; triggers on `auth.users` run with its rights (CLI `GOTRUE_DB_DATABASE_URL`). */
const AUTH_DB_ROLE = "supabase_auth_admin";

type Db = postgres.Sql | postgres.TransactionSql;

/** The shared parts of the Auth surface; each route module takes it. */
export interface AuthKit {
  sql: postgres.Sql;
  /** One transaction as the Auth role, like GoTrue's `db.Transaction`. */
  authTx<T>(fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T>;
  settings: TokenSettings;
  /** `[auth]` with the stack's options on top. */
  config: AuthConfig;
  /** `<API URL>/auth/v1`: GoTrue's external URL (links in mails, pagination links). */
  authUrl: string;
  mailer: Mailer;
  /** The JSON body as an object (`{}` when empty); 400 `bad_json`, 413 over the cap. */
  body(req: IncomingMessage): Promise<Json>;
  /** GoTrue's `requireAuthentication` with the user and session loaded, for `/user` and `/logout`. */
  requireUser(req: IncomingMessage): Promise<{ user: UserRow; claims: Claims }>;
  /** A token whose role is an admin role, else 403 `not_admin`. */
  requireAdmin(req: IncomingMessage): Promise<void>;
  /** The user JSON GoTrue answers with, identities included. */
  toJson(user: UserRow, db?: Db): Promise<Json>;
  /** GoTrue's length checks: 400 over 72 characters, 422 `weak_password` under the minimum. */
  checkPassword(password: string): void;
  hashPassword(password: string): Promise<string>;
  /** Whether `password` matches a stored bcrypt hash (any cost, as GoTrue accepts). */
  passwordMatches(password: string, hash: string | null): Promise<boolean>;
}

/** A lookup that fails on bad input reads as "not found"; an unreachable database stays an error (503). */
export function unlessUnreachable<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (isConnectionError(error)) throw error;
    return fallback;
  };
}

/** A unique-index race (two sign-ups with one email) ends as the error GoTrue gives for a duplicate. */
export function uniqueViolationAs(make: () => AuthError): (error: unknown) => never {
  return (error) => {
    if ((error as { code?: string }).code === "23505") throw make();
    throw error;
  };
}

/**
 * Builds the kit of one Auth surface.
 *
 * @example
 * const kit = createAuthKit(ctx);
 * const { user } = await kit.requireUser(req);
 */
export function createAuthKit(ctx: StackContext): AuthKit {
  const sql = postgres(ctx.dbUrl, { max: 10, onnotice: () => {}, idle_timeout: 30 });

  async function verify(req: IncomingMessage): Promise<Claims> {
    const token = bearerToken(req);
    if (!token) throw E.noAuthorization();
    try {
      return await verifyJwt(token, ctx.keys);
    } catch (error) {
      if (error instanceof JwtError) {
        const detail =
          error.reason === "expired" ? "token has invalid claims: token is expired" : error.message;
        throw E.badJwt(detail.replace(/^invalid JWT: /, ""));
      }
      throw error;
    }
  }

  return {
    sql,
    authTx: <T>(fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> =>
      sql.begin(async (tx) => {
        await tx.unsafe(`set local role ${AUTH_DB_ROLE}`);
        return fn(tx);
      }) as Promise<T>,
    settings: {
      keys: ctx.keys,
      alg: ctx.userTokenAlg,
      issuer: `${ctx.apiUrl}/auth/v1`,
      ttlSeconds: ctx.auth.jwtExpiry,
      rotation: ctx.auth.enableRefreshTokenRotation,
      reuseIntervalSeconds: ctx.auth.refreshTokenReuseInterval,
    },
    config: ctx.auth,
    authUrl: `${ctx.apiUrl}/auth/v1`,
    mailer: ctx.mailer,
    async body(req) {
      try {
        return asObject(await readJson(req, BODY_LIMIT_BYTES));
      } catch (error) {
        if (error instanceof BodyError)
          throw error.reason === "too_large" ? E.requestTooLarge() : E.badJson(error.message);
        throw error;
      }
    },
    async requireUser(req) {
      const claims = await verify(req);
      if (!claims.sub) throw E.missingSub();
      const user = await findUserById(sql, claims.sub).catch(unlessUnreachable(undefined));
      if (!user) throw E.userFromJwtMissing();
      if (claims.session_id) {
        const [session] = await sql`select 1 from auth.sessions where id = ${claims.session_id}::uuid`.catch(
          unlessUnreachable([]),
        );
        if (!session) throw E.sessionNotFound();
      }
      return { user, claims };
    },
    async requireAdmin(req) {
      const claims = await verify(req);
      if (!claims.role || !ADMIN_ROLES.has(claims.role)) throw E.notAdmin();
    },
    toJson: async (user, db = sql) => userJson(user, (await identitiesOf(db, [user.id])).get(user.id)),
    checkPassword(password) {
      if (password.length > MAX_PASSWORD_LENGTH) {
        throw E.validation(`Password cannot be longer than ${MAX_PASSWORD_LENGTH} characters`);
      }
      if (password.length < ctx.auth.minimumPasswordLength)
        throw E.weakPassword(ctx.auth.minimumPasswordLength);
    },
    hashPassword: (password) => bcrypt.hash(password, ctx.options.passwordHashCost ?? BCRYPT_COST),
    passwordMatches: async (password, hash) => (hash ? bcrypt.compare(password, hash) : false),
  };
}
