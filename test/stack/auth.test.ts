import { AuthApiError, AuthWeakPasswordError } from "@supabase/supabase-js";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EXTERNAL_STACK,
  EXTERNAL_WITHOUT_DB,
  EXTERNAL_WITHOUT_JWT_SECRET,
  localOnly,
  startTestStack,
  type TestStack,
} from "../support/stack.ts";
import { uniqueEmail } from "../support/users.ts";

/** Refresh tokens may be reused this long after rotation (short, so the test can outwait it). */
const REUSE_INTERVAL_SECONDS = 1;
const PASSWORD = "correct-horse-battery";

let stack: TestStack;
let db: postgres.Sql;

beforeAll(async () => {
  stack = await startTestStack({
    functions: false,
    ...localOnly({ refreshTokenReuseIntervalSeconds: REUSE_INTERVAL_SECONDS }),
  });
  if (stack.dbUrl) db = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await db?.end();
  await stack?.stop();
});

const email = (): string => uniqueEmail("user");

async function signedUp(data: Record<string, unknown> = {}) {
  const client = stack.client();
  const address = email();
  const { data: result, error } = await client.auth.signUp({
    email: address,
    password: PASSWORD,
    options: { data },
  });
  expect(error).toBeNull();
  return { client, email: address, session: result.session!, user: result.user! };
}

describe("sign-up", () => {
  // Reads auth.users in SQL: needs SUPABASE_DB_URL against an external stack.
  it.skipIf(EXTERNAL_WITHOUT_DB)(
    "when a user signs up with email and password, then they get a session and an auth.users row with a bcrypt hash",
    async () => {
      const { session, user, email: address } = await signedUp({ display_name: "Ada" });
      expect(session.access_token).toBeTruthy();
      expect(session.refresh_token).toMatch(/^[A-Za-z0-9]{12}$/);
      expect(session.expires_in).toBe(3600);
      expect(user.email).toBe(address);
      expect(user.user_metadata.display_name).toBe("Ada");
      expect(user.app_metadata).toMatchObject({ provider: "email", providers: ["email"] });
      expect(user.identities?.[0]?.provider).toBe("email");
      expect(user.email_confirmed_at).toBeTruthy();
      const [row] =
        await db`select instance_id, aud, encrypted_password from auth.users where id = ${user.id}`;
      expect(row?.instance_id).toBe("00000000-0000-0000-0000-000000000000");
      expect(row?.aud).toBe("authenticated");
      // At the cost the test stacks hash with (4); `npm start` hashes at GoTrue's 10 (test/stack/cli.test.ts).
      expect(row?.encrypted_password).toMatch(/^\$2[ab]\$04\$/);
    },
  );

  // Reads roomkit.profiles in SQL: needs SUPABASE_DB_URL against an external stack.
  it.skipIf(EXTERNAL_WITHOUT_DB)(
    "when a user signs up, then the app's trigger gives them a roomkit.profiles row",
    async () => {
      const { user } = await signedUp({ display_name: "Grace" });
      const [profile] = await db`select display_name from roomkit.profiles where id = ${user.id}`;
      expect(profile).toBeDefined();
    },
  );

  it("when an email is already registered, then sign-up fails with user_already_exists (422)", async () => {
    const { email: address } = await signedUp();
    const { data, error } = await stack.client().auth.signUp({ email: address, password: PASSWORD });
    expect(data.session).toBeNull();
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error?.code).toBe("user_already_exists");
    expect(error?.status).toBe(422);
  });

  it("when the password is too short, then sign-up fails with weak_password and the reasons", async () => {
    const { error } = await stack.client().auth.signUp({ email: email(), password: "12345" });
    expect(error).toBeInstanceOf(AuthWeakPasswordError);
    expect(error?.code).toBe("weak_password");
    expect(error?.status).toBe(422);
    expect((error as AuthWeakPasswordError).reasons).toEqual(["length"]);
  });

  it("when the email is malformed, then sign-up fails with validation_failed (400)", async () => {
    const { error } = await stack.client().auth.signUp({ email: "not-an-email", password: PASSWORD });
    expect(error?.code).toBe("validation_failed");
    expect(error?.status).toBe(400);
  });
});

describe("password sign-in and tokens", () => {
  it("when a user signs in with the right password, then the access token carries GoTrue's claims", async () => {
    const { email: address, user } = await signedUp({ display_name: "Lin" });
    const { data, error } = await stack
      .client()
      .auth.signInWithPassword({ email: address, password: PASSWORD });
    expect(error).toBeNull();
    const claims = decodeJwt(data.session!.access_token);
    expect(claims).toMatchObject({
      iss: `${stack.url}/auth/v1`,
      sub: user.id,
      aud: "authenticated",
      role: "authenticated",
      email: address,
      phone: "",
      aal: "aal1",
      is_anonymous: false,
      app_metadata: { provider: "email", providers: ["email"] },
      user_metadata: { display_name: "Lin" },
    });
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(claims.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((claims.amr as { method: string }[])[0]?.method).toBe("password");
    expect(decodeProtectedHeader(data.session!.access_token).alg).toBe("HS256");
  });

  it("when the password is wrong or the email unknown, then sign-in fails with invalid_credentials (400)", async () => {
    const { email: address } = await signedUp();
    const wrong = await stack
      .client()
      .auth.signInWithPassword({ email: address, password: "wrong-password" });
    expect(wrong.error?.code).toBe("invalid_credentials");
    expect(wrong.error?.status).toBe(400);
    const unknown = await stack.client().auth.signInWithPassword({ email: email(), password: PASSWORD });
    expect(unknown.error?.code).toBe("invalid_credentials");
  });

  // Needs a 1 s refresh-token reuse window (refreshTokenReuseIntervalSeconds): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when a session is refreshed, then the refresh token rotates and a token two rotations old is refused after the reuse window",
    async () => {
      const { client, session } = await signedUp();
      const first = session.refresh_token;
      const r1 = await client.auth.refreshSession({ refresh_token: first });
      expect(r1.error).toBeNull();
      const second = r1.data.session!.refresh_token;
      expect(second).not.toBe(first);
      // The parent of the active token is handed the active token again (a client that lost the answer).
      const again = await stack.client().auth.refreshSession({ refresh_token: first });
      expect(again.data.session?.refresh_token).toBe(second);
      const r2 = await client.auth.refreshSession({ refresh_token: second });
      expect(r2.data.session!.refresh_token).not.toBe(second);
      await new Promise((r) => setTimeout(r, REUSE_INTERVAL_SECONDS * 1000 + 200));
      const reused = await stack.client().auth.refreshSession({ refresh_token: first });
      expect(reused.error?.code).toBe("refresh_token_already_used");
      expect(reused.error?.status).toBe(400);
    },
  );

  it("when a refresh token does not exist, then refresh fails with refresh_token_not_found", async () => {
    const { error } = await stack.client().auth.refreshSession({ refresh_token: "AAAAAAAAAAAA" });
    expect(error?.code).toBe("refresh_token_not_found");
  });

  // Signs its own expired HS256 token: needs SUPABASE_JWT_SECRET against an external stack.
  it.skipIf(EXTERNAL_WITHOUT_JWT_SECRET)(
    "when an access token has expired, then /user answers 403 bad_jwt",
    async () => {
      const { user } = await signedUp();
      const past = Math.floor(Date.now() / 1000) - 120;
      const expired = await new SignJWT({ sub: user.id, role: "authenticated", aud: "authenticated" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuedAt(past - 3600)
        .setExpirationTime(past)
        .sign(new TextEncoder().encode(stack.jwtSecret!));
      const res = await fetch(`${stack.url}/auth/v1/user`, {
        headers: {
          apikey: stack.anonKey,
          authorization: `Bearer ${expired}`,
          "x-supabase-api-version": "2024-01-01",
        },
      });
      expect(res.status).toBe(403);
      expect((await res.json()).code).toBe("bad_jwt");
    },
  );
});

describe("the current user", () => {
  it("when a signed-in user reads and updates their metadata, then keys merge and null removes a key", async () => {
    const { client, user } = await signedUp({ display_name: "Old", theme: "dark" });
    const got = await client.auth.getUser();
    expect(got.data.user?.id).toBe(user.id);
    const updated = await client.auth.updateUser({ data: { display_name: "New", theme: null, lang: "en" } });
    expect(updated.error).toBeNull();
    expect(updated.data.user?.user_metadata).toMatchObject({ display_name: "New", lang: "en" });
    expect(updated.data.user?.user_metadata).not.toHaveProperty("theme");
  });

  it("when a user changes their password, then the new one signs in and the old one no longer does", async () => {
    const { client, email: address } = await signedUp();
    const { error } = await client.auth.updateUser({ password: "a-brand-new-password" });
    expect(error).toBeNull();
    expect(
      (await stack.client().auth.signInWithPassword({ email: address, password: PASSWORD })).error?.code,
    ).toBe("invalid_credentials");
    const ok = await stack
      .client()
      .auth.signInWithPassword({ email: address, password: "a-brand-new-password" });
    expect(ok.error).toBeNull();
  });

  it("when the anon key asks for /user, then it is refused with 403 bad_jwt (no sub claim)", async () => {
    const res = await fetch(`${stack.url}/auth/v1/user`, {
      headers: { apikey: stack.anonKey, "x-supabase-api-version": "2024-01-01" },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("x-supabase-api-version")).toBe("2024-01-01");
    expect(await res.json()).toMatchObject({ code: "bad_jwt" });
  });

  it("when a client sends no API version, then errors use GoTrue's legacy body", async () => {
    const res = await fetch(`${stack.url}/auth/v1/token?grant_type=password`, {
      method: "POST",
      headers: { apikey: stack.anonKey, "content-type": "application/json" },
      body: JSON.stringify({ email: email(), password: PASSWORD }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      code: 400,
      error_code: "invalid_credentials",
      msg: "Invalid login credentials",
    });
  });
});

describe("sign-out", () => {
  it("when a user signs out, then their refresh token and access token are refused", async () => {
    const { client, session } = await signedUp();
    expect((await client.auth.signOut()).error).toBeNull();
    const refreshed = await stack.client().auth.refreshSession({ refresh_token: session.refresh_token });
    expect(refreshed.error?.code).toBe("refresh_token_not_found");
    const res = await fetch(`${stack.url}/auth/v1/user`, {
      headers: {
        apikey: stack.anonKey,
        authorization: `Bearer ${session.access_token}`,
        "x-supabase-api-version": "2024-01-01",
      },
    });
    expect(res.status).toBe(403);
    expect((await res.json()).code).toBe("session_not_found");
  });

  it("when a user signs out other sessions, then only the current session survives", async () => {
    const { client, email: address } = await signedUp();
    const other = await stack.client().auth.signInWithPassword({ email: address, password: PASSWORD });
    expect((await client.auth.signOut({ scope: "others" })).error).toBeNull();
    const refreshedOther = await stack
      .client()
      .auth.refreshSession({ refresh_token: other.data.session!.refresh_token });
    expect(refreshedOther.error?.code).toBe("refresh_token_not_found");
    expect((await client.auth.getUser()).error).toBeNull();
  });
});

describe("anonymous sign-in", () => {
  it("when anonymous sign-ins are allowed, then signInAnonymously gives an anonymous session", async () => {
    const { data, error } = await stack
      .client()
      .auth.signInAnonymously({ options: { data: { display_name: "Guest" } } });
    expect(error).toBeNull();
    expect(data.user?.is_anonymous).toBe(true);
    expect(data.user?.email ?? "").toBe("");
    const claims = decodeJwt(data.session!.access_token);
    expect(claims.is_anonymous).toBe(true);
    expect(claims.role).toBe("authenticated");
    expect((claims.amr as { method: string }[])[0]?.method).toBe("anonymous");
  });
});

describe("admin users", () => {
  it("when the service role creates, lists, reads and deletes a user, then each step shows it", async () => {
    const admin = stack.admin().auth.admin;
    const address = email();
    const created = await admin.createUser({
      email: address,
      password: PASSWORD,
      email_confirm: true,
      user_metadata: { display_name: "Made" },
    });
    expect(created.error).toBeNull();
    const id = created.data.user!.id;
    expect(
      (await stack.client().auth.signInWithPassword({ email: address, password: PASSWORD })).error,
    ).toBeNull();

    await admin.createUser({ email: email(), password: PASSWORD, email_confirm: true });
    const page = await admin.listUsers({ page: 1, perPage: 1 });
    expect(page.error).toBeNull();
    expect(page.data.users).toHaveLength(1);
    expect((page.data as { total: number }).total).toBeGreaterThanOrEqual(2);
    expect((page.data as { nextPage: number | null }).nextPage).toBe(2);

    const got = await admin.getUserById(id);
    expect(got.data.user?.email).toBe(address);

    const duplicate = await admin.createUser({ email: address, password: PASSWORD });
    expect(duplicate.error?.code).toBe("email_exists");
    expect(duplicate.error?.status).toBe(422);

    expect((await admin.deleteUser(id)).error).toBeNull();
    const gone = await admin.getUserById(id);
    expect(gone.error?.status).toBe(404);
    expect(gone.error?.code).toBe("user_not_found");
  });

  it("when the anon key calls an admin endpoint, then it is refused with not_admin (403)", async () => {
    const { error } = await stack.client().auth.admin.listUsers();
    expect(error?.code).toBe("not_admin");
    expect(error?.status).toBe(403);
  });
});

// Needs a second stack signing with ES256 and anonymous sign-ins disabled: local stack only.
describe.skipIf(EXTERNAL_STACK)("asymmetric tokens and configuration", () => {
  let es: TestStack;
  beforeAll(async () => {
    es = await startTestStack({ functions: false, userTokenAlg: "ES256", anonymousSignIns: false });
  });
  afterAll(async () => {
    await es?.stop();
  });

  it("when the stack signs user tokens with ES256, then they verify against the published JWKS", async () => {
    const client = es.client();
    const { data, error } = await client.auth.signUp({ email: email(), password: PASSWORD });
    expect(error).toBeNull();
    const token = data.session!.access_token;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "ES256" });
    expect(decodeProtectedHeader(token).kid).toBeTruthy();
    const jwks = createRemoteJWKSet(new URL(`${es.url}/auth/v1/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, jwks, {
      issuer: `${es.url}/auth/v1`,
      audience: "authenticated",
    });
    expect(payload.sub).toBe(data.user!.id);
    const claims = await client.auth.getClaims();
    expect(claims.error).toBeNull();
    expect(claims.data?.claims.sub).toBe(data.user!.id);
  });

  it("when anonymous sign-ins are disabled, then signInAnonymously fails with anonymous_provider_disabled", async () => {
    const { error } = await es.client().auth.signInAnonymously();
    expect(error?.code).toBe("anonymous_provider_disabled");
    expect(error?.status).toBe(422);
  });

  it("when a client reads /settings, then it shows the enabled providers", async () => {
    const res = await fetch(`${es.url}/auth/v1/settings`, { headers: { apikey: es.anonKey } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      external: { email: true, anonymous_users: false },
      mailer_autoconfirm: true,
    });
  });
});

describe("GoTrue contracts the stand-in once missed", () => {
  it("when an address is not in GoTrue's email format, then sign-up and admin create answer 400 validation_failed", async () => {
    for (const address of ["xx:;x@x.x", "a b@example.com", "no-at-sign.example.com", "x@-bad.example"]) {
      const signUp = await stack.client().auth.signUp({ email: address, password: PASSWORD });
      expect(signUp.error?.status).toBe(400);
      expect(signUp.error?.code).toBe("validation_failed");
      const created = await stack.admin().auth.admin.createUser({ email: address, password: PASSWORD });
      expect(created.error?.status).toBe(400);
      expect(created.error?.code).toBe("validation_failed");
    }
  });

  it("when the service role creates or updates a user, then user_metadata holds only what it was given", async () => {
    const admin = stack.admin().auth.admin;
    const created = await admin.createUser({
      email: email(),
      password: PASSWORD,
      email_confirm: true,
      user_metadata: { display_name: "Ada" },
    });
    expect(created.error).toBeNull();
    expect(created.data.user?.user_metadata).toEqual({ display_name: "Ada" });
    const updated = await admin.updateUserById(created.data.user!.id, { user_metadata: { theme: "dark" } });
    expect(updated.data.user?.user_metadata).toEqual({ display_name: "Ada", theme: "dark" });
  });
});

// Needs a stack with sign-ups closed and refresh-token rotation off: local stack only.
describe.skipIf(EXTERNAL_STACK)("[auth] settings", () => {
  let closed: TestStack;
  beforeAll(async () => {
    closed = await startTestStack({ functions: false, enableSignup: false, refreshTokenRotation: false });
  });
  afterAll(async () => {
    await closed?.stop();
  });

  it("when enable_signup is false, then sign-ups and anonymous sign-ins answer 422 signup_disabled, admin create still works", async () => {
    const signUp = await closed.client().auth.signUp({ email: email(), password: PASSWORD });
    expect(signUp.error?.status).toBe(422);
    expect(signUp.error?.code).toBe("signup_disabled");
    const anonymous = await closed.client().auth.signInAnonymously();
    expect(anonymous.error?.code).toBe("signup_disabled");
    const created = await closed.admin().auth.admin.createUser({ email: email(), password: PASSWORD });
    expect(created.error).toBeNull();
  });

  it("when refresh-token rotation is off, then a used refresh token keeps working", async () => {
    const address = email();
    await closed.admin().auth.admin.createUser({ email: address, password: PASSWORD, email_confirm: true });
    const client = closed.client();
    const { data } = await client.auth.signInWithPassword({ email: address, password: PASSWORD });
    const first = data.session!.refresh_token;
    const refresh = (token: string) =>
      fetch(`${closed.url}/auth/v1/token?grant_type=refresh_token`, {
        method: "POST",
        headers: { apikey: closed.anonKey, "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
    expect((await refresh(first)).status).toBe(200);
    expect((await refresh((await (await refresh(first)).json()).refresh_token)).status).toBe(200);
    // Well past any reuse interval a rotating server would allow.
    const closedDb = postgres(closed.dbUrl!, { max: 1, onnotice: () => {} });
    await closedDb.unsafe(`update auth.refresh_tokens set updated_at = now() - interval '1 hour'`);
    await closedDb.end();
    expect((await refresh(first)).status).toBe(200);
  });
});
