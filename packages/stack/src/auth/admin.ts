/**
 * The admin users API (`/admin/users`, service role only): create, list with GoTrue's paging
 * headers, get, update (metadata merged, ban durations, email confirmation) and delete (hard or
 * soft), as auth-js's `auth.admin` calls them.
 */
import { sendJson } from "../http.ts";
import { AuthError, E } from "./errors.ts";
import { type AuthKit, uniqueViolationAs } from "./kit.ts";
import { asObject, type Handler, type Route, str, validateEmail } from "./params.ts";
import { changeEmail } from "./user.ts";
import {
  findUserByEmail,
  findUserById,
  identitiesOf,
  insertEmailIdentity,
  insertUser,
  mergeMetadata,
  type UserRow,
  userJson,
} from "./users.ts";

/** `GET /admin/users` page size when `per_page` is absent (GoTrue `api/pagination.go`). */
const DEFAULT_PER_PAGE = 50;

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

function isUuid(value: string | undefined): value is string {
  return value !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/**
 * The admin user routes.
 *
 * @example
 * const routes = adminRoutes(kit);
 */
export function adminRoutes(kit: AuthKit): Route[] {
  const { sql, authTx, toJson, body, requireAdmin, checkPassword } = kit;

  async function adminUser(id: string | undefined): Promise<UserRow> {
    if (!isUuid(id)) throw new AuthError(404, "validation_failed", "user_id must be an UUID");
    const user = await findUserById(sql, id);
    if (!user) throw E.userNotFound();
    return user;
  }

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
    const hash = password ? await kit.hashPassword(password) : str(params.password_hash);
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
    const base = `${kit.authUrl}/admin/users`;
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
    const hash = password ? await kit.hashPassword(password) : undefined;
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

  return [
    ["POST", /^\/admin\/users$/, adminCreate],
    ["GET", /^\/admin\/users$/, adminList],
    ["GET", /^\/admin\/users\/([^/]+)$/, adminGet],
    ["PUT", /^\/admin\/users\/([^/]+)$/, adminUpdate],
    ["DELETE", /^\/admin\/users\/([^/]+)$/, adminDelete],
  ];
}
