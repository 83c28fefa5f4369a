/**
 * Passwordless email sign-in, as GoTrue serves it: `POST /otp` mails a code and a magic link,
 * `POST /verify` trades the code (or the link's token hash) for a session, `GET /verify` is the
 * link itself (303 to `redirect_to` with the session in the fragment), and the admin
 * `POST /invite` creates a user and mails an invite link; `POST /recover` mails a password-reset
 * link (its session then sets the new password with `PUT /user`). Mails go to the local inbox.
 *
 * Tokens are stored as GoTrue stores them (`internal/api/verify.go`, `mail.go`): the hex SHA-224
 * of address + code in `auth.users.recovery_token` (magic link, recovery) or `confirmation_token` (signup,
 * invite), with `recovery_sent_at` / `confirmation_sent_at` for the expiry; the link carries that
 * hash, the mail also shows the code.
 */
import { createHash, randomInt } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type postgres from "postgres";
import type { AuthConfig } from "../config.ts";
import { sendJson } from "../http.ts";
import { AuthError, E } from "./errors.ts";
import type { AuthKit } from "./kit.ts";
import { asObject, clientMeta, type Handler, type Json, type Route, str, validateEmail } from "./params.ts";
import { issueSession, type SessionResponse } from "./sessions.ts";
import {
  findUserByEmail,
  findUserById,
  INSTANCE_ID,
  insertEmailIdentity,
  insertSignedUpUser,
  insertUser,
  type UserRow,
} from "./users.ts";

type Tx = postgres.TransactionSql;

/** Verification types of `/verify` (GoTrue `mailer` constants); `email` means signup or magic link. */
const EMAIL_TYPES = ["signup", "invite", "magiclink", "recovery", "email_change", "email"] as const;
type EmailType = (typeof EMAIL_TYPES)[number];

/** Which token column each type is checked against. */
const TOKEN_COLUMNS: Record<EmailType, ("confirmation" | "recovery")[]> = {
  signup: ["confirmation"],
  invite: ["confirmation"],
  magiclink: ["recovery"],
  recovery: ["recovery"],
  // Email changes apply at once locally (mailer autoconfirm), so no change token is ever issued.
  email_change: [],
  email: ["confirmation", "recovery"],
};

/** Default subjects of GoTrue's template mailer (`internal/mailer/template.go`). */
const SUBJECTS = {
  magiclink: "Your Magic Link",
  invite: "You have been invited",
  recovery: "Reset Your Password",
} as const;

/** The mail's lead line and link text, by type. */
function wording(type: keyof typeof SUBJECTS, siteUrl: string): { lead: string; action: string } {
  if (type === "invite") {
    return {
      lead: `You have been invited to create a user on ${siteUrl}. Follow this link to accept the invite:`,
      action: "Accept the invite",
    };
  }
  if (type === "recovery")
    return { lead: "Follow this link to reset the password for your user:", action: "Reset password" };
  return { lead: "Follow this link to sign in:", action: "Sign in" };
}

/** GoTrue's `oauthErrorMap`: the `error` of an error redirect by HTTP status. */
const OAUTH_ERRORS: Record<number, string> = {
  400: "invalid_request",
  401: "unauthorized_client",
  403: "access_denied",
  500: "server_error",
  503: "temporarily_unavailable",
};

const otpInvalid = () => new AuthError(403, "otp_expired", "Token has expired or is invalid");
const linkInvalid = () => new AuthError(403, "otp_expired", "Email link is invalid or has expired");

/** GoTrue's `crypto.GenerateOtp`: `length` random decimal digits. */
function newOtp(length: number): string {
  let code = "";
  for (let i = 0; i < length; i++) code += String(randomInt(10));
  return code;
}

/** GoTrue's `crypto.GenerateTokenHash`: hex SHA-224 of address + code. */
export function tokenHash(email: string, otp: string): string {
  return createHash("sha224")
    .update(email + otp)
    .digest("hex");
}

/** A `*` glob of `additional_redirect_urls` as a pattern (`**` crosses `/` and `.`, `*` does not). */
function globPattern(glob: string): RegExp {
  const body = glob
    .split("**")
    .map((part) =>
      part
        .split("*")
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join("[^/.]*"),
    )
    .join(".*");
  return new RegExp(`^${body}$`);
}

/**
 * GoTrue's `GetReferrer`: `redirect_to` when it is allowed (same host as `site_url`, or matching
 * an `additional_redirect_urls` glob), else `site_url`.
 */
export function referrer(config: AuthConfig, redirectTo: string | null | undefined): string {
  if (!redirectTo) return config.siteUrl;
  let target: URL;
  try {
    target = new URL(redirectTo);
  } catch {
    return config.siteUrl;
  }
  if (target.hostname === new URL(config.siteUrl).hostname) return redirectTo;
  const allowed = config.additionalRedirectUrls.some((glob) => globPattern(glob).test(redirectTo));
  return allowed ? redirectTo : config.siteUrl;
}

interface TokenRow {
  confirmation_token: string | null;
  confirmation_sent_at: Date | null;
  recovery_token: string | null;
  recovery_sent_at: Date | null;
}

/**
 * The passwordless routes: `POST /otp`, `GET|POST /verify`, `POST /invite`, `POST /recover`.
 *
 * @example
 * const routes: Route[] = [...passwordlessRoutes(kit), ...otherRoutes];
 */
export function passwordlessRoutes(deps: AuthKit): Route[] {
  const { config } = deps;
  const expiryMs = config.emailOtpExpiry * 1000;

  function isFresh(sentAt: Date | null): boolean {
    return sentAt !== null && Date.now() <= sentAt.getTime() + expiryMs;
  }

  /** Stores a fresh code for `kind` and returns it with its hash. */
  async function issueToken(tx: Tx, user: UserRow, kind: "confirmation" | "recovery") {
    const otp = newOtp(config.emailOtpLength);
    const hash = tokenHash(user.email ?? "", otp);
    await tx.unsafe(
      `update auth.users set ${kind}_token = $2, ${kind}_sent_at = now(), updated_at = now() where id = $1`,
      [user.id, hash],
    );
    return { otp, hash };
  }

  function mail(
    to: string,
    type: keyof typeof SUBJECTS,
    token: { otp: string; hash: string },
    redirect: string,
  ): void {
    const link = `${deps.authUrl}/verify?token=${token.hash}&type=${type}&redirect_to=${encodeURIComponent(redirect)}`;
    const { lead, action } = wording(type, config.siteUrl);
    const html = `<h2>${SUBJECTS[type]}</h2>
<p>${lead}</p>
<p><a href="${link.replace(/&/g, "&amp;")}">${action}</a></p>
<p>Or enter this code: <code>${token.otp}</code></p>`;
    const text = `${SUBJECTS[type]}\n\n${lead}\n${link}\n\nOr enter this code: ${token.otp}\n`;
    deps.mailer.send({ to, subject: SUBJECTS[type], html, text });
  }

  /** GoTrue's `MagicLink` with mailer autoconfirm: an unknown address is signed up first. */
  async function magicLink(email: string, data: Json, redirect: string): Promise<void> {
    await deps.authTx(async (tx) => {
      let user = await findUserByEmail(tx, email);
      if (!user) {
        if (!config.enableSignup) throw E.signupDisabled();
        const id = await insertSignedUpUser(tx, { email, encryptedPassword: null, userMetadata: data });
        user = (await findUserById(tx, id))!;
      }
      mail(email, "magiclink", await issueToken(tx, user, "recovery"), redirect);
    });
  }

  const otp: Handler = async (req, res, url) => {
    const params = await deps.body(req);
    const email = str(params.email);
    const phone = str(params.phone);
    // supabase-js sends `create_user: shouldCreateUser ?? true`; GoTrue defaults it to true.
    const createUser = params.create_user !== false;
    if (email && phone) throw E.validation("Only an email address or phone number should be provided");
    if (!createUser && email) {
      const known = await findUserByEmail(deps.sql, validateEmail(email));
      if (!known) throw new AuthError(422, "otp_disabled", "Signups not allowed for otp");
    }
    if (email) {
      await magicLink(
        validateEmail(email),
        asObject(params.data),
        referrer(config, url.searchParams.get("redirect_to")),
      );
      sendJson(res, 200, {});
      return;
    }
    if (phone) throw new AuthError(400, "phone_provider_disabled", "Unsupported phone provider");
    throw E.validation("One of email or phone must be set");
  };

  async function tokensOf(tx: Tx, userId: string): Promise<TokenRow> {
    const [row] = await tx.unsafe<TokenRow[]>(
      `select confirmation_token, confirmation_sent_at, recovery_token, recovery_sent_at
         from auth.users where id = $1 for update`,
      [userId],
    );
    return row!;
  }

  /** The code path (`verifyUserAndToken`): the user by address, the hash against their columns. */
  async function userByCode(tx: Tx, type: string, email: string, hash: string) {
    const user = await findUserByEmail(tx, email);
    if (!user) throw otpInvalid();
    if (user.banned_until && user.banned_until > new Date())
      throw new AuthError(403, "user_banned", "User is banned");
    const tokens = await tokensOf(tx, user.id);
    const columns = TOKEN_COLUMNS[type as EmailType] ?? [];
    const matched = columns.find(
      (kind) => tokens[`${kind}_token`] === hash && isFresh(tokens[`${kind}_sent_at`]),
    );
    if (!matched) throw otpInvalid();
    return { user, matched };
  }

  /** The link path (`verifyTokenHash`): the user by the stored hash. */
  async function userByHash(tx: Tx, type: string, hash: string) {
    if (!(EMAIL_TYPES as readonly string[]).includes(type) || type === "email_change") {
      throw E.validation("Invalid email verification type");
    }
    const columns = TOKEN_COLUMNS[type as EmailType];
    const where = columns.map((kind) => `${kind}_token = $2`).join(" or ");
    const [found] = await tx.unsafe<{ id: string }[]>(
      `select id from auth.users where instance_id = $1 and (${where}) limit 1`,
      [INSTANCE_ID, hash],
    );
    const user = found ? await findUserById(tx, found.id) : undefined;
    if (!user) throw linkInvalid();
    if (user.banned_until && user.banned_until > new Date())
      throw new AuthError(403, "user_banned", "User is banned");
    const tokens = await tokensOf(tx, user.id);
    const matched = columns.find((kind) => tokens[`${kind}_token`] === hash);
    if (!matched || !isFresh(tokens[`${matched}_sent_at`])) throw linkInvalid();
    return { user, matched };
  }

  /**
   * GoTrue's `signupVerify` / `recoverVerify`: the used token is cleared, the address confirmed
   * (and the email identity marked verified), then a session is issued.
   */
  async function complete(
    tx: Tx,
    req: IncomingMessage,
    user: UserRow,
    matched: "confirmation" | "recovery",
  ): Promise<SessionResponse> {
    await tx.unsafe(
      `update auth.users set ${matched}_token = '', email_confirmed_at = coalesce(email_confirmed_at, now()),
         updated_at = now() where id = $1`,
      [user.id],
    );
    await tx.unsafe(
      `update auth.identities set identity_data = identity_data || '{"email_verified": true}'::jsonb, updated_at = now()
        where user_id = $1 and provider = 'email'`,
      [user.id],
    );
    return issueSession(tx, deps.settings, user.id, clientMeta(req), (u) => deps.toJson(u, tx), "otp");
  }

  const verifyPost: Handler = async (req, res) => {
    const params = await deps.body(req);
    const type = str(params.type);
    const token = str(params.token);
    const hash = str(params.token_hash);
    const email = str(params.email);
    const phone = str(params.phone);
    if (!type) throw E.validation("Verify requires a verification type");
    if ((!token && !hash) || (token && hash))
      throw E.validation("Verify requires either a token or a token hash");
    if (hash && (email || phone || str(params.redirect_to))) {
      throw E.validation("Only the token_hash and type should be provided");
    }
    if (token && !(email && !phone)) {
      // Phone codes cannot exist locally (no SMS provider): no user holds one.
      if (phone && !email) throw otpInvalid();
      throw E.validation("Only an email address or phone number should be provided on verify");
    }
    let address: string | undefined;
    if (token) {
      try {
        address = validateEmail(email!);
      } catch {
        throw new AuthError(422, "validation_failed", "Invalid email format");
      }
    }
    const session = await deps.authTx(async (tx) => {
      const { user, matched } = token
        ? await userByCode(tx, type, address!, tokenHash(address!, token.replace(/-/g, "")))
        : await userByHash(tx, type, hash!);
      return complete(tx, req, user, matched);
    });
    sendJson(res, 200, session);
  };

  /** The magic link: a 303 to `redirect_to` with the session, or the error, in the fragment. */
  const verifyGet: Handler = async (req, res, url) => {
    const type = url.searchParams.get("type") ?? "";
    const token = (url.searchParams.get("token") ?? "").replace(/-/g, "");
    if (!type) throw E.validation("Verify requires a verification type");
    if (!token) throw E.validation("Verify requires a token or a token hash");
    const target = new URL(referrer(config, url.searchParams.get("redirect_to")));
    const fragment = new URLSearchParams();
    try {
      const session = await deps.authTx(async (tx) => {
        const { user, matched } = await userByHash(tx, type, token);
        return complete(tx, req, user, matched);
      });
      // Go's url.Values.Encode: keys sorted.
      fragment.set("access_token", session.access_token);
      fragment.set("expires_at", String(session.expires_at));
      fragment.set("expires_in", String(session.expires_in));
      fragment.set("refresh_token", session.refresh_token);
      fragment.set("token_type", session.token_type);
      fragment.set("type", type);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      const oauth = OAUTH_ERRORS[error.status];
      if (oauth) fragment.set("error", oauth);
      fragment.set("error_code", error.code);
      fragment.set("error_description", error.message);
      fragment.set("sb", "");
    }
    target.hash = fragment.toString();
    res.writeHead(303, { location: target.toString() });
    res.end();
  };

  /**
   * GoTrue's `Recover` (`resetPasswordForEmail`): a recovery mail to a known address; an unknown
   * one gets the same 200 `{}`, so the answer does not tell whether the address has a user.
   */
  const recover: Handler = async (req, res, url) => {
    const params = await deps.body(req);
    const raw = str(params.email);
    if (!raw) throw E.validation("Password recovery requires an email");
    const email = validateEmail(raw);
    const redirect = referrer(config, url.searchParams.get("redirect_to"));
    await deps.authTx(async (tx) => {
      const user = await findUserByEmail(tx, email);
      if (user) mail(email, "recovery", await issueToken(tx, user, "recovery"), redirect);
    });
    sendJson(res, 200, {});
  };

  /** GoTrue's `Invite`: creates the user (unconfirmed) unless a confirmed one exists, mails the link. */
  const invite: Handler = async (req, res, url) => {
    await deps.requireAdmin(req);
    const params = await deps.body(req);
    const email = validateEmail(str(params.email) ?? "");
    const redirect = referrer(config, url.searchParams.get("redirect_to"));
    const user = await deps.authTx(async (tx) => {
      let existing = await findUserByEmail(tx, email);
      if (existing?.email_confirmed_at) throw E.emailExists();
      if (!existing) {
        const id = await insertUser(tx, {
          email,
          encryptedPassword: null,
          emailConfirmed: false,
          appMetadata: { provider: "email", providers: ["email"] },
          userMetadata: asObject(params.data),
          isAnonymous: false,
        });
        await insertEmailIdentity(tx, id, { sub: id, email });
        existing = (await findUserById(tx, id))!;
      }
      const token = await issueToken(tx, existing, "confirmation");
      await tx.unsafe(`update auth.users set invited_at = now() where id = $1`, [existing.id]);
      mail(email, "invite", token, redirect);
      return deps.toJson((await findUserById(tx, existing.id))!, tx);
    });
    sendJson(res, 200, user);
  };

  return [
    ["POST", /^\/otp$/, otp],
    ["POST", /^\/verify$/, verifyPost],
    ["GET", /^\/verify$/, verifyGet],
    ["POST", /^\/invite$/, invite],
    ["POST", /^\/recover$/, recover],
  ];
}
