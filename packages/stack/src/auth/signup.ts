/**
 * Getting a session: `POST /signup` (email and password, auto-confirmed as with the CLI's
 * `enable_confirmations = false`, or anonymous) and `POST /token` (the password and
 * refresh-token grants, refresh tokens rotating with GoTrue's reuse window).
 */
import { sendJson } from "../http.ts";
import { AuthError, E, OAuthError } from "./errors.ts";
import { type AuthKit, uniqueViolationAs } from "./kit.ts";
import { asObject, clientMeta, type Handler, type Route, str, validateEmail } from "./params.ts";
import { issueSession, refreshSession } from "./sessions.ts";
import { findUserByEmail, insertSignedUpUser, insertUser } from "./users.ts";

/**
 * The sign-up and token routes.
 *
 * @example
 * const routes = sessionRoutes(kit);
 */
export function sessionRoutes(kit: AuthKit): Route[] {
  const { sql, authTx, settings, toJson, body, checkPassword } = kit;

  const signup: Handler = async (req, res) => {
    const params = await body(req);
    const email = str(params.email);
    const phone = str(params.phone);
    const password = str(params.password);
    const data = asObject(params.data);
    if (!kit.config.enableSignup) throw E.signupDisabled();
    if (!email && !phone) {
      if (password) throw E.validation("To signup, please provide your email");
      if (!kit.config.enableAnonymousSignIns) throw E.anonymousDisabled();
      const session = await authTx(async (tx) => {
        const id = await insertUser(tx, {
          email: null,
          encryptedPassword: null,
          emailConfirmed: false,
          appMetadata: {},
          userMetadata: data,
          isAnonymous: true,
        });
        return issueSession(tx, settings, id, clientMeta(req), (u) => toJson(u, tx), "anonymous");
      });
      sendJson(res, 200, session);
      return;
    }
    if (phone && !email) throw new AuthError(422, "phone_provider_disabled", "Phone signups are disabled");
    if (!password) throw E.validation("Signup requires a valid password");
    checkPassword(password);
    const normalized = validateEmail(email!);
    const hash = await kit.hashPassword(password);
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
      if (!user || !(await kit.passwordMatches(password, user.encrypted_password))) {
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

  return [
    ["POST", /^\/signup$/, signup],
    ["POST", /^\/token$/, token],
  ];
}
