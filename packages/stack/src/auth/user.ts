/**
 * The signed-in user's own routes: `GET /user`, `PUT /user` (metadata merged, password, email
 * applied at once as with mailer autoconfirm) and `POST /logout` with its three scopes.
 */
import type postgres from "postgres";
import { sendJson } from "../http.ts";
import { AuthError, E } from "./errors.ts";
import { type AuthKit, uniqueViolationAs } from "./kit.ts";
import { asObject, type Handler, type Route, str, validateEmail } from "./params.ts";
import {
  findUserByEmail,
  findUserById,
  insertEmailIdentity,
  jsonb,
  mergeMetadata,
  type UserRow,
} from "./users.ts";

/**
 * Applies an email change at once (mailer autoconfirm is on locally): the address, confirmation,
 * an anonymous user becoming an email user, and the email identity; 422 `email_exists` when another
 * user has the address. Shared with the admin update.
 */
export async function changeEmail(tx: postgres.TransactionSql, user: UserRow, email: string): Promise<void> {
  const other = await findUserByEmail(tx, email);
  if (other && other.id !== user.id) throw E.emailExists();
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

/**
 * The current-user routes.
 *
 * @example
 * const routes = userRoutes(kit);
 */
export function userRoutes(kit: AuthKit): Route[] {
  const { authTx, toJson, body, requireUser, checkPassword } = kit;

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
      if (await kit.passwordMatches(password, user.encrypted_password)) throw E.samePassword();
      hash = await kit.hashPassword(password);
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
        // Mailer autoconfirm is on locally, so GoTrue applies the change at once.
        await changeEmail(tx, current, email);
      }
      return (await findUserById(tx, user.id))!;
    }).catch(uniqueViolationAs(E.emailExists));
    sendJson(res, 200, await toJson(updated));
  };

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

  return [
    ["GET", /^\/user$/, getUser],
    ["PUT", /^\/user$/, putUser],
    ["POST", /^\/logout$/, logout],
  ];
}
