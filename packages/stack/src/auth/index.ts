import type { IncomingMessage } from "node:http";
import bcrypt from "bcryptjs";
import postgres from "postgres";
import { BodyError, bearerToken, decodePathSegment, isConnectionError, readJson, sendJson } from "../http.ts";
import { type Claims, JwtError, verifyJwt } from "../jwt.ts";
import type { Surface, SurfaceFactory } from "../surface.ts";
import { AuthError, E, OAuthError, sendAuthError } from "./errors.ts";
import { asObject, clientMeta, type Handler, type Json, type Route, str, validateEmail } from "./params.ts";
import { passwordlessRoutes } from "./passwordless.ts";
import { issueSession, refreshSession, type TokenSettings } from "./sessions.ts";
import {
  findUserByEmail,
  findUserById,
  identitiesOf,
  insertEmailIdentity,
  insertSignedUpUser,
  insertUser,
  jsonb,
  mergeMetadata,
  type UserRow,
  userJson,
} from "./users.ts";

/** bcrypt reads at most 72 bytes; GoTrue refuses longer passwords (`api/password.go`). */
const MAX_PASSWORD_LENGTH = 72;
/** GoTrue hashes with bcrypt's default cost (`crypto/password.go`). */
const BCRYPT_COST = 10;
/** Roles allowed on `/admin/*` (`GOTRUE_JWT_ADMIN_ROLES` default). */
const ADMIN_ROLES = new Set(["service_role", "supabase_admin"]);
/** `GET /admin/users` page size when `per_page` is absent (GoTrue `api/pagination.go`). */
const DEFAULT_PER_PAGE = 50;
/** JSON bodies GoTrue accepts are small; this cap only guards the process. */
const BODY_LIMIT_BYTES = 256 * 1024;
/** Role GoTrue connects as; triggers on `auth.users` run with its rights (CLI `GOTRUE_DB_DATABASE_URL`). */
const AUTH_DB_ROLE = "supabase_auth_admin";

function checkPasswordLength(password: string, minLength: number): void {
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw E.validation(`Password cannot be longer than ${MAX_PASSWORD_LENGTH} characters`);
  }
  if (password.length < minLength) throw E.weakPassword(minLength);
}

/** Go's `time.ParseDuration` subset GoTrue's `ban_duration` takes ("24h", "1h30m", "90s"); "none" lifts a ban. */
function parseBanDuration(value: string): Date | null {
  if (value === "none") return null;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) {
    throw E.validation(`invalid format for ban duration: time: invalid duration "${value}"`);
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2]!] ?? 0), 0);
  return new Date(Date.now() + ms);
}

/**
 * The Auth surface (`/auth/v1`): a GoTrue stand-in for what supabase-js auth uses: sign-up
 * (email, anonymous), password and refresh-token grants, the user endpoints, logout, admin
 * users, settings, health and the JWKS. It writes real rows in `auth.users`, `auth.identities`,
 * `auth.sessions` and `auth.refresh_tokens`, so triggers on them fire as on Supabase.
 *
 * @example
 * const auth = await createAuthSurface(ctx);
 * await auth.handle(req, res, "/token?grant_type=password");
 */
export const createAuthSurface: SurfaceFactory = async (ctx) => {
  const sql = postgres(ctx.dbUrl, { max: 10, onnotice: () => {}, idle_timeout: 30 });
  const anonymousSignIns = ctx.auth.enableAnonymousSignIns;
  const checkPassword = (password: string) => checkPasswordLength(password, ctx.auth.minimumPasswordLength);
  const settings: TokenSettings = {
    keys: ctx.keys,
    alg: ctx.userTokenAlg,
    issuer: `${ctx.apiUrl}/auth/v1`,
    ttlSeconds: ctx.auth.jwtExpiry,
    rotation: ctx.auth.enableRefreshTokenRotation,
    reuseIntervalSeconds: ctx.auth.refreshTokenReuseInterval,
  };

  /** One transaction as the Auth role, like GoTrue's `db.Transaction`. */
  const authTx = <T>(fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> =>
    sql.begin(async (tx) => {
      await tx.unsafe(`set local role ${AUTH_DB_ROLE}`);
      return fn(tx);
    }) as Promise<T>;

  const toJson = async (user: UserRow, db: postgres.Sql | postgres.TransactionSql = sql) =>
    userJson(user, (await identitiesOf(db, [user.id])).get(user.id));

  async function body(req: IncomingMessage): Promise<Json> {
    try {
      return asObject(await readJson(req, BODY_LIMIT_BYTES));
    } catch (error) {
      if (error instanceof BodyError)
        throw error.reason === "too_large" ? E.requestTooLarge() : E.badJson(error.message);
      throw error;
    }
  }

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

  /** GoTrue's `requireAuthentication` + user/session loading for `/user` and `/logout`. */
  async function requireUser(req: IncomingMessage): Promise<{ user: UserRow; claims: Claims }> {
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
  }

  async function requireAdmin(req: IncomingMessage): Promise<void> {
    const claims = await verify(req);
    if (!claims.role || !ADMIN_ROLES.has(claims.role)) throw E.notAdmin();
  }

  function isUuid(value: string | undefined): value is string {
    return (
      value !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
    );
  }

  async function adminUser(id: string | undefined): Promise<UserRow> {
    if (!isUuid(id)) throw new AuthError(404, "validation_failed", "user_id must be an UUID");
    const user = await findUserById(sql, id);
    if (!user) throw E.userNotFound();
    return user;
  }

  const signup: Handler = async (req, res) => {
    const params = await body(req);
    const email = str(params.email);
    const phone = str(params.phone);
    const password = str(params.password);
    const data = asObject(params.data);
    if (!ctx.auth.enableSignup) throw E.signupDisabled();
    if (!email && !phone) {
      if (password) throw E.validation("To signup, please provide your email");
      if (!anonymousSignIns) throw E.anonymousDisabled();
      const session = await authTx(async (tx) => {
        const id = await insertUser(tx, {
          email: null,
          encryptedPassword: null,
          emailConfirmed: false,
          appMetadata: {},
          userMetadata: data,
          isAnonymous: true,
        });
        return issueSession(tx, settings, id, clientMeta(req), (u) => toJson(u, tx));
      });
      sendJson(res, 200, session);
      return;
    }
    if (phone && !email) throw new AuthError(422, "phone_provider_disabled", "Phone signups are disabled");
    if (!password) throw E.validation("Signup requires a valid password");
    checkPassword(password);
    const normalized = validateEmail(email!);
    const hash = await bcrypt.hash(password, BCRYPT_COST);
    const session = await authTx(async (tx) => {
      if (await findUserByEmail(tx, normalized)) throw E.userAlreadyExists();
      // `[auth.email] enable_confirmations = false` locally: GoTrue autoconfirms.
      const id = await insertSignedUpUser(tx, {
        email: normalized,
        encryptedPassword: hash,
        userMetadata: data,
      });
      return issueSession(tx, settings, id, clientMeta(req), (u) => toJson(u, tx));
    }).catch(uniqueViolationAs(E.userAlreadyExists));
    sendJson(res, 200, session);
  };

  const token: Handler = async (req, res, url) => {
    const grant = url.searchParams.get("grant_type");
    const params = await body(req);
    if (grant === "password") {
      const email = str(params.email);
      const password = typeof params.password === "string" ? params.password : "";
      if (!email) {
        if (str(params.phone)) throw E.invalidCredentials();
        throw E.validation("An email address or phone number is required to sign in");
      }
      const user = await findUserByEmail(sql, email.trim());
      if (!user?.encrypted_password || !(await bcrypt.compare(password, user.encrypted_password))) {
        throw E.invalidCredentials();
      }
      if (!user.email_confirmed_at) throw E.emailNotConfirmed();
      if (user.banned_until && user.banned_until > new Date()) throw E.userBanned();
      const session = await authTx(async (tx) => {
        await tx.unsafe(
          `update auth.identities set last_sign_in_at = now() where user_id = $1 and provider = 'email'`,
          [user.id],
        );
        return issueSession(tx, settings, user.id, clientMeta(req), (u) => toJson(u, tx));
      });
      sendJson(res, 200, session);
      return;
    }
    if (grant === "refresh_token") {
      const refresh = str(params.refresh_token);
      if (!refresh) throw new OAuthError(400, "invalid_request", "refresh_token required");
      sendJson(res, 200, await refreshSession(sql, settings, refresh, (u) => toJson(u)));
      return;
    }
    throw E.unsupportedGrant();
  };

  const getUser: Handler = async (req, res) => {
    const { user } = await requireUser(req);
    sendJson(res, 200, await toJson(user));
  };

  const putUser: Handler = async (req, res) => {
    const { user } = await requireUser(req);
    const params = await body(req);
    if (str(params.phone) && str(params.phone) !== user.phone) {
      throw new AuthError(
        422,
        "sms_send_failed",
        "Updating the phone number is not supported by the local stack",
      );
    }
    const password = typeof params.password === "string" ? params.password : undefined;
    let hash: string | undefined;
    if (password !== undefined) {
      checkPassword(password);
      if (user.encrypted_password && (await bcrypt.compare(password, user.encrypted_password)))
        throw E.samePassword();
      hash = await bcrypt.hash(password, BCRYPT_COST);
    }
    const email = str(params.email) ? validateEmail(str(params.email)!) : undefined;
    const updated = await authTx(async (tx) => {
      const current = (await findUserById(tx, user.id, true)) ?? user;
      if (params.data && typeof params.data === "object") {
        const next = mergeMetadata(current.raw_user_meta_data, asObject(params.data));
        await tx.unsafe(
          `update auth.users set raw_user_meta_data = $2::jsonb, updated_at = now() where id = $1`,
          [user.id, jsonb(next)],
        );
      }
      if (hash) {
        await tx.unsafe(`update auth.users set encrypted_password = $2, updated_at = now() where id = $1`, [
          user.id,
          hash,
        ]);
      }
      if (email && email !== current.email) {
        const other = await findUserByEmail(tx, email);
        if (other && other.id !== user.id) throw E.emailExists();
        // Mailer autoconfirm is on locally, so GoTrue applies the change at once.
        await changeEmail(tx, current, email);
      }
      return (await findUserById(tx, user.id))!;
    }).catch(uniqueViolationAs(E.emailExists));
    sendJson(res, 200, await toJson(updated));
  };

  async function changeEmail(tx: postgres.TransactionSql, user: UserRow, email: string): Promise<void> {
    const wasAnonymous = user.is_anonymous;
    const app = wasAnonymous ? { provider: "email", providers: ["email"] } : (user.raw_app_meta_data ?? {});
    await tx.unsafe(
      `update auth.users set email = $2, email_confirmed_at = coalesce(email_confirmed_at, now()), is_anonymous = false,
         raw_app_meta_data = $3::jsonb, updated_at = now() where id = $1`,
      [user.id, email, jsonb(app)],
    );
    const [identity] = await tx.unsafe(
      `select 1 from auth.identities where user_id = $1 and provider = 'email'`,
      [user.id],
    );
    if (identity) {
      await tx.unsafe(
        `update auth.identities set identity_data = identity_data || jsonb_build_object('email', $2::text), updated_at = now()
          where user_id = $1 and provider = 'email'`,
        [user.id, email],
      );
    } else {
      await insertEmailIdentity(tx, user.id, {
        sub: user.id,
        email,
        email_verified: true,
        phone_verified: false,
      });
    }
  }

  const logout: Handler = async (req, res, url) => {
    const { user, claims } = await requireUser(req);
    const scope = url.searchParams.get("scope") ?? "global";
    if (!["global", "local", "others"].includes(scope))
      throw E.validation(`Unsupported logout scope "${scope}"`);
    await authTx(async (tx) => {
      if (scope === "local" && claims.session_id) {
        await tx.unsafe(`delete from auth.sessions where id = $1`, [claims.session_id]);
      } else if (scope === "others") {
        await tx.unsafe(`delete from auth.sessions where user_id = $1 and id is distinct from $2::uuid`, [
          user.id,
          claims.session_id ?? null,
        ]);
      } else if (scope === "global") {
        await tx.unsafe(`delete from auth.sessions where user_id = $1`, [user.id]);
      }
    });
    res.writeHead(204);
    res.end();
  };

  const adminCreate: Handler = async (req, res) => {
    await requireAdmin(req);
    const params = await body(req);
    const emailRaw = str(params.email);
    if (!emailRaw) {
      throw E.validation(
        str(params.phone)
          ? "Phone users are not supported by the local stack"
          : "Cannot create a user without either an email or phone",
      );
    }
    const email = validateEmail(emailRaw);
    const password = str(params.password);
    if (password) checkPassword(password);
    const hash = password ? await bcrypt.hash(password, BCRYPT_COST) : str(params.password_hash);
    const id = str(params.id);
    if (id !== undefined && !isUuid(id)) throw E.validation("id must be an UUID");
    const confirmed = params.email_confirm === true;
    const bannedUntil = str(params.ban_duration) ? parseBanDuration(str(params.ban_duration)!) : null;
    const created = await authTx(async (tx) => {
      if (await findUserByEmail(tx, email)) throw E.emailExists();
      const identity = { email, email_verified: confirmed, phone_verified: false };
      const userId = await insertUser(tx, {
        ...(id ? { id } : {}),
        email,
        encryptedPassword: hash ?? null,
        emailConfirmed: confirmed,
        appMetadata: { ...asObject(params.app_metadata), provider: "email", providers: ["email"] },
        userMetadata: { ...asObject(params.user_metadata) },
        isAnonymous: false,
        role: str(params.role) ?? "authenticated",
        bannedUntil,
      });
      // Unlike sign-up, GoTrue's admin create keeps the identity's claims out of user_metadata.
      await insertEmailIdentity(tx, userId, { sub: userId, ...identity });
      return (await findUserById(tx, userId))!;
    }).catch(uniqueViolationAs(E.emailExists));
    sendJson(res, 200, await toJson(created));
  };

  const adminList: Handler = async (req, res, url) => {
    await requireAdmin(req);
    // auth-js sends `page=&per_page=` when the caller gave none; GoTrue reads empty as the default.
    const page = Number(url.searchParams.get("page") || 1);
    const perPage = Number(url.searchParams.get("per_page") || DEFAULT_PER_PAGE);
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(perPage) || perPage < 1) {
      throw new AuthError(400, "validation_failed", "Bad Pagination Parameters");
    }
    const filter = url.searchParams.get("filter");
    const ascending = /^created_at\s+asc$/i.test(url.searchParams.get("sort") ?? "");
    const like = filter ? `%${filter}%` : null;
    const rows = await sql.unsafe<(UserRow & { total: string })[]>(
      `select u.*, count(*) over () as total from (
         select id, aud, role, email, phone, encrypted_password, email_confirmed_at, phone_confirmed_at, confirmed_at,
                confirmation_sent_at, recovery_sent_at, email_change, email_change_sent_at, invited_at, last_sign_in_at,
                raw_app_meta_data, raw_user_meta_data, created_at, updated_at, banned_until, deleted_at, is_anonymous
           from auth.users
          where instance_id = '00000000-0000-0000-0000-000000000000' and aud = 'authenticated'
            and ($1::text is null or email ilike $1 or raw_user_meta_data ->> 'full_name' ilike $1)) u
        order by created_at ${ascending ? "asc" : "desc"}, id
        limit $2 offset $3`,
      [like, perPage, (page - 1) * perPage],
    );
    let total = Number(rows[0]?.total ?? 0);
    if (rows.length === 0 && page > 1) {
      const [c] = await sql`select count(*)::int as n from auth.users where aud = 'authenticated'`;
      total = Number(c?.n ?? 0);
    }
    const identities = await identitiesOf(
      sql,
      rows.map((r) => r.id),
    );
    const users = rows.map(({ total: _t, ...row }) => userJson(row as UserRow, identities.get(row.id)));
    // GoTrue's pagination headers; auth-js expects `page` first in each link (api/pagination.go).
    const base = `${ctx.apiUrl}/auth/v1/admin/users`;
    const lastPage = Math.max(1, Math.ceil(total / perPage));
    const links: string[] = [];
    if (page < lastPage) links.push(`<${base}?page=${page + 1}&per_page=${perPage}>; rel="next"`);
    links.push(`<${base}?page=${lastPage}&per_page=${perPage}>; rel="last"`);
    sendJson(
      res,
      200,
      { users, aud: "authenticated" },
      { "x-total-count": String(total), link: links.join(", ") },
    );
  };

  const adminGet: Handler = async (req, res, _url, [id]) => {
    await requireAdmin(req);
    sendJson(res, 200, await toJson(await adminUser(id)));
  };

  const adminUpdate: Handler = async (req, res, _url, [id]) => {
    await requireAdmin(req);
    const user = await adminUser(id);
    const params = await body(req);
    const password = str(params.password);
    if (password) checkPassword(password);
    const hash = password ? await bcrypt.hash(password, BCRYPT_COST) : undefined;
    const email = str(params.email) ? validateEmail(str(params.email)!) : undefined;
    const updated = await authTx(async (tx) => {
      const current = (await findUserById(tx, user.id, true)) ?? user;
      const sets: string[] = [];
      const values: unknown[] = [user.id];
      const set = (column: string, value: unknown, cast = "") => {
        values.push(value);
        sets.push(`${column} = $${values.length}${cast}`);
      };
      if (params.user_metadata && typeof params.user_metadata === "object") {
        set(
          "raw_user_meta_data",
          mergeMetadata(current.raw_user_meta_data, asObject(params.user_metadata)),
          "::jsonb",
        );
      }
      if (params.app_metadata && typeof params.app_metadata === "object") {
        set(
          "raw_app_meta_data",
          mergeMetadata(current.raw_app_meta_data, asObject(params.app_metadata)),
          "::jsonb",
        );
      }
      if (hash) set("encrypted_password", hash);
      if (str(params.role)) set("role", str(params.role));
      if (str(params.ban_duration)) set("banned_until", parseBanDuration(str(params.ban_duration)!));
      if (params.email_confirm === true)
        sets.push("email_confirmed_at = coalesce(email_confirmed_at, now())");
      if (params.email_confirm === false) sets.push("email_confirmed_at = null");
      if (sets.length > 0) {
        await tx.unsafe(
          `update auth.users set ${sets.join(", ")}, updated_at = now() where id = $1`,
          values as never[],
        );
      }
      if (email && email !== current.email) {
        const other = await findUserByEmail(tx, email);
        if (other && other.id !== user.id) throw E.emailExists();
        await changeEmail(tx, current, email);
      }
      return (await findUserById(tx, user.id))!;
    }).catch(uniqueViolationAs(E.emailExists));
    sendJson(res, 200, await toJson(updated));
  };

  const adminDelete: Handler = async (req, res, _url, [id]) => {
    await requireAdmin(req);
    const user = await adminUser(id);
    const params = await body(req);
    await authTx(async (tx) => {
      if (params.should_soft_delete === true) {
        // GoTrue's soft delete: the row stays (so foreign keys hold) but can no longer sign in.
        await tx.unsafe(`delete from auth.sessions where user_id = $1`, [user.id]);
        await tx.unsafe(`delete from auth.identities where user_id = $1`, [user.id]);
        await tx.unsafe(
          `update auth.users set deleted_at = now(), email = null, phone = null, encrypted_password = '',
             raw_user_meta_data = '{}'::jsonb, updated_at = now() where id = $1`,
          [user.id],
        );
      } else {
        await tx.unsafe(`delete from auth.users where id = $1`, [user.id]);
      }
    });
    sendJson(res, 200, {});
  };

  const settingsHandler: Handler = async (_req, res) => {
    sendJson(res, 200, {
      external: {
        anonymous_users: anonymousSignIns,
        email: true,
        phone: false,
        apple: false,
        azure: false,
        bitbucket: false,
        discord: false,
        facebook: false,
        figma: false,
        github: false,
        gitlab: false,
        google: false,
        keycloak: false,
        kakao: false,
        linkedin_oidc: false,
        notion: false,
        slack_oidc: false,
        spotify: false,
        twitch: false,
        twitter: false,
        workos: false,
        zoom: false,
      },
      disable_signup: false,
      mailer_autoconfirm: true,
      phone_autoconfirm: false,
      sms_provider: "",
      saml_enabled: false,
    });
  };

  const health: Handler = async (_req, res) => {
    sendJson(res, 200, {
      version: "roomkit-local",
      name: "GoTrue",
      description: "GoTrue is a user registration and authentication API",
    });
  };

  const jwks: Handler = async (_req, res) => {
    // Only public keys; the HS256 secret is never published (GoTrue `api/jwks.go`).
    sendJson(res, 200, { keys: [ctx.keys.signingKey.publicJwk] }, { "cache-control": "public, max-age=600" });
  };

  const routes: Route[] = [
    ...passwordlessRoutes({
      sql,
      authTx,
      settings,
      config: ctx.auth,
      authUrl: `${ctx.apiUrl}/auth/v1`,
      mailer: ctx.mailer,
      body,
      requireAdmin,
      toJson,
    }),
    ["POST", /^\/signup$/, signup],
    ["POST", /^\/token$/, token],
    ["GET", /^\/user$/, getUser],
    ["PUT", /^\/user$/, putUser],
    ["POST", /^\/logout$/, logout],
    ["GET", /^\/settings$/, settingsHandler],
    ["GET", /^\/health$/, health],
    ["GET", /^\/\.well-known\/jwks\.json$/, jwks],
    ["POST", /^\/admin\/users$/, adminCreate],
    ["GET", /^\/admin\/users$/, adminList],
    ["GET", /^\/admin\/users\/([^/]+)$/, adminGet],
    ["PUT", /^\/admin\/users\/([^/]+)$/, adminUpdate],
    ["DELETE", /^\/admin\/users\/([^/]+)$/, adminDelete],
  ];

  const surface: Surface = {
    async handle(req, res, path) {
      const url = new URL(path, "http://auth");
      const pathname = url.pathname.replace(/\/+$/, "") || "/";
      try {
        const matching = routes.filter(([, pattern]) => pattern.test(pathname));
        if (matching.length === 0) throw E.notFound();
        const method = req.method === "HEAD" ? "GET" : req.method;
        const hit = matching.find(([m]) => m === method);
        if (!hit) throw E.methodNotAllowed();
        const params = (pathname.match(hit[1]) ?? []).slice(1).map(decodePathSegment);
        await hit[2](req, res, url, params);
      } catch (error) {
        if (error instanceof AuthError || error instanceof OAuthError) {
          sendAuthError(req, res, error);
          return;
        }
        if (isConnectionError(error)) {
          sendAuthError(req, res, E.databaseUnavailable());
          return;
        }
        ctx.log("auth", `${req.method} ${pathname}: ${(error as Error).stack ?? String(error)}`);
        sendAuthError(req, res, E.unexpected());
      }
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
  return surface;
};

/** A lookup that fails on bad input reads as "not found"; an unreachable database stays an error (503). */
function unlessUnreachable<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (isConnectionError(error)) throw error;
    return fallback;
  };
}

/** A unique-index race (two sign-ups with one email) ends as the error GoTrue gives for a duplicate. */
function uniqueViolationAs(make: () => AuthError): (error: unknown) => never {
  return (error) => {
    if ((error as { code?: string }).code === "23505") throw make();
    throw error;
  };
}
