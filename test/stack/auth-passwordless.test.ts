/**
 * Email OTP, magic links and admin invites through unmodified supabase-js, with the codes and
 * links read from the local inbox's Mailpit-shaped API. Contracts: GoTrue `internal/api/otp.go`,
 * `magic_link.go`, `verify.go`, `invite.go`; Mailpit's `/api/v1` for the inbox.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthApiError, createClient, type SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt } from "jose";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { RESEND_PATH } from "../../packages/stack/src/inbox.ts";
import { type RunningStack, startStack } from "../../packages/stack/src/index.ts";
import { generateKeys, type StackKeys } from "../../packages/stack/src/keys.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { freePort } from "../support/global-setup.ts";
import { type InboxMail, mailIds } from "../support/inbox.ts";
import { REPO_ROOT } from "../support/repo.ts";
import { uniqueEmail } from "../support/users.ts";

/** Not the default 6: the test sees `[auth.email] otp_length` honoured. */
const OTP_LENGTH = 8;
const OTP_EXPIRY_SECONDS = 60;
const SITE_URL = "http://127.0.0.1:3000";

let dir: string;
let db: TestDatabase;
let sql: postgres.Sql;
let keys: StackKeys;
let stack: RunningStack;
let inbox: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "roomkit-otp-"));
  const configPath = join(dir, "config.toml");
  await writeFile(
    configPath,
    [
      "[auth]",
      `site_url = "${SITE_URL}"`,
      'additional_redirect_urls = ["https://app.example.com/**"]',
      "[auth.email]",
      `otp_length = ${OTP_LENGTH}`,
      `otp_expiry = ${OTP_EXPIRY_SECONDS}`,
    ].join("\n"),
  );
  db = await createTestDatabase();
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
  keys = await generateKeys();
  stack = await startStack({
    dbUrl: db.url,
    keys,
    port: await freePort(),
    inboxPort: 0,
    host: "127.0.0.1",
    projectDir: REPO_ROOT,
    configPath,
    functions: false,
    log: () => {},
  });
  inbox = stack.inboxUrl!;
});
afterAll(async () => {
  await stack?.close();
  await sql?.end();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

const clientOptions = {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  // Node 20 has no global WebSocket; realtime-js refuses to construct without a transport.
  realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
};

function client(): SupabaseClient {
  return createClient(stack.apiUrl, keys.anonKey, clientOptions);
}

function admin(): SupabaseClient {
  return createClient(stack.apiUrl, keys.serviceRoleKey, clientOptions);
}

const address = (): string => uniqueEmail("otp");

/** The newest mail to `to`, through Mailpit's search and message endpoints (the inbox's own API under test). */
async function latestMailTo(to: string): Promise<InboxMail> {
  const [id] = await mailIds(inbox, to);
  expect(id).toBeDefined();
  const res = await fetch(`${inbox}/api/v1/message/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as InboxMail;
}

function codeIn(mail: InboxMail): string {
  const match = mail.Text.match(new RegExp(`\\b(\\d{${OTP_LENGTH}})\\b`));
  expect(match).not.toBeNull();
  return match![1]!;
}

function linkIn(mail: InboxMail): string {
  const match = mail.Text.match(/http:\/\/\S+\/auth\/v1\/verify\?\S+/);
  expect(match).not.toBeNull();
  return match![0];
}

/** Follows an email link the way a browser's first hop does: the 303 and its Location. */
async function follow(link: string): Promise<{ status: number; location: URL; fragment: URLSearchParams }> {
  const res = await fetch(link, { redirect: "manual" });
  const location = new URL(res.headers.get("location") ?? "");
  return { status: res.status, location, fragment: new URLSearchParams(location.hash.slice(1)) };
}

describe("email OTP", () => {
  it("when a new address asks for a code, then the inbox shows a code of otp_length digits and verifying it signs the user in", async () => {
    const email = address();
    const supabase = client();
    const sent = await supabase.auth.signInWithOtp({ email, options: { data: { display_name: "Otto" } } });
    expect(sent.error).toBeNull();
    expect(sent.data).toEqual({ user: null, session: null });

    const mail = await latestMailTo(email);
    expect(mail.Subject).toBe("Your Magic Link");
    expect(mail.To[0]!.Address).toBe(email);
    const { data, error } = await supabase.auth.verifyOtp({ email, token: codeIn(mail), type: "email" });
    expect(error).toBeNull();
    expect(data.session?.access_token).toBeTruthy();
    expect(data.user?.email).toBe(email);
    expect(data.user?.email_confirmed_at).toBeTruthy();
    expect(data.user?.user_metadata.display_name).toBe("Otto");
    const me = await supabase.auth.getUser(data.session!.access_token);
    expect(me.data.user?.id).toBe(data.user!.id);
  });

  it("when a session comes from a code, then its tokens say amr otp, also after a refresh", async () => {
    const email = address();
    const supabase = client();
    await supabase.auth.signInWithOtp({ email });
    const { data } = await supabase.auth.verifyOtp({
      email,
      token: codeIn(await latestMailTo(email)),
      type: "email",
    });
    expect(decodeJwt(data.session!.access_token).amr).toEqual([
      { method: "otp", timestamp: expect.any(Number) },
    ]);
    const refreshed = await supabase.auth.refreshSession({ refresh_token: data.session!.refresh_token });
    expect(refreshed.error).toBeNull();
    expect((decodeJwt(refreshed.data.session!.access_token).amr as { method: string }[])[0]?.method).toBe(
      "otp",
    );
  });

  it("when a user who signed up with a password asks for a code, then the code signs in that same user", async () => {
    const email = address();
    const signedUp = await client().auth.signUp({ email, password: "correct-horse-battery" });
    expect(signedUp.error).toBeNull();
    const supabase = client();
    expect((await supabase.auth.signInWithOtp({ email })).error).toBeNull();
    const { data, error } = await supabase.auth.verifyOtp({
      email,
      token: codeIn(await latestMailTo(email)),
      type: "magiclink",
    });
    expect(error).toBeNull();
    expect(data.user?.id).toBe(signedUp.data.user!.id);
  });

  it("when the code is wrong, then verifying fails with 403 otp_expired", async () => {
    const email = address();
    const supabase = client();
    await supabase.auth.signInWithOtp({ email });
    const right = codeIn(await latestMailTo(email));
    const wrong = right === "0".repeat(OTP_LENGTH) ? "1".repeat(OTP_LENGTH) : "0".repeat(OTP_LENGTH);
    const { data, error } = await supabase.auth.verifyOtp({ email, token: wrong, type: "email" });
    expect(data.session).toBeNull();
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error?.status).toBe(403);
    expect(error?.code).toBe("otp_expired");
    expect(error?.message).toBe("Token has expired or is invalid");
  });

  it("when the code is older than otp_expiry, then verifying fails with 403 otp_expired", async () => {
    const email = address();
    const supabase = client();
    await supabase.auth.signInWithOtp({ email });
    const code = codeIn(await latestMailTo(email));
    await sql`update auth.users set recovery_sent_at = now() - make_interval(secs => ${OTP_EXPIRY_SECONDS + 1})
               where email = ${email}`;
    const { error } = await supabase.auth.verifyOtp({ email, token: code, type: "email" });
    expect(error?.status).toBe(403);
    expect(error?.code).toBe("otp_expired");
  });

  it("when a code has been used once, then using it again fails with otp_expired", async () => {
    const email = address();
    const supabase = client();
    await supabase.auth.signInWithOtp({ email });
    const code = codeIn(await latestMailTo(email));
    expect((await supabase.auth.verifyOtp({ email, token: code, type: "email" })).error).toBeNull();
    const again = await client().auth.verifyOtp({ email, token: code, type: "email" });
    expect(again.error?.code).toBe("otp_expired");
  });

  it("when shouldCreateUser is false and the address is unknown, then 422 otp_disabled and no mail and no user", async () => {
    const email = address();
    const { error } = await client().auth.signInWithOtp({ email, options: { shouldCreateUser: false } });
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error?.status).toBe(422);
    expect(error?.code).toBe("otp_disabled");
    expect(error?.message).toBe("Signups not allowed for otp");
    expect(await mailIds(inbox, email)).toEqual([]);
    const [row] = await sql`select count(*)::int as n from auth.users where email = ${email}`;
    expect(row?.n).toBe(0);
  });

  it("when shouldCreateUser is false and the address is known, then the code is sent", async () => {
    const email = address();
    await client().auth.signUp({ email, password: "correct-horse-battery" });
    const { error } = await client().auth.signInWithOtp({ email, options: { shouldCreateUser: false } });
    expect(error).toBeNull();
    expect(codeIn(await latestMailTo(email))).toHaveLength(OTP_LENGTH);
  });

  it("when the address is malformed, then 400 validation_failed", async () => {
    const { error } = await client().auth.signInWithOtp({ email: "not-an-address" });
    expect(error?.status).toBe(400);
    expect(error?.code).toBe("validation_failed");
  });
});

describe("magic link", () => {
  it("when the link is followed, then it redirects (303) to emailRedirectTo with the session in the fragment", async () => {
    const email = address();
    const redirectTo = `${SITE_URL}/welcome`;
    await client().auth.signInWithOtp({ email, options: { emailRedirectTo: redirectTo } });
    const link = linkIn(await latestMailTo(email));
    expect(new URL(link).searchParams.get("type")).toBe("magiclink");

    const { status, location, fragment } = await follow(link);
    expect(status).toBe(303);
    expect(`${location.origin}${location.pathname}`).toBe(redirectTo);
    expect(fragment.get("token_type")).toBe("bearer");
    expect(fragment.get("type")).toBe("magiclink");
    expect(Number(fragment.get("expires_in"))).toBe(3600);
    expect(Number(fragment.get("expires_at"))).toBeGreaterThan(Date.now() / 1000);

    const supabase = client();
    const { data, error } = await supabase.auth.setSession({
      access_token: fragment.get("access_token")!,
      refresh_token: fragment.get("refresh_token")!,
    });
    expect(error).toBeNull();
    expect(data.user?.email).toBe(email);
  });

  it("when a used link is followed again, then it redirects with error_code=otp_expired in the fragment", async () => {
    const email = address();
    await client().auth.signInWithOtp({ email, options: { emailRedirectTo: `${SITE_URL}/welcome` } });
    const link = linkIn(await latestMailTo(email));
    expect((await follow(link)).fragment.get("access_token")).toBeTruthy();
    const { status, fragment } = await follow(link);
    expect(status).toBe(303);
    expect(fragment.get("access_token")).toBeNull();
    expect(fragment.get("error")).toBe("access_denied");
    expect(fragment.get("error_code")).toBe("otp_expired");
    expect(fragment.get("error_description")).toBe("Email link is invalid or has expired");
  });

  it("when redirect_to is not allowed, then the link leads to site_url; when it matches additional_redirect_urls, there", async () => {
    const outside = address();
    await client().auth.signInWithOtp({
      email: outside,
      options: { emailRedirectTo: "https://evil.example/x" },
    });
    expect((await follow(linkIn(await latestMailTo(outside)))).location.origin).toBe(SITE_URL);

    const listed = address();
    await client().auth.signInWithOtp({
      email: listed,
      options: { emailRedirectTo: "https://app.example.com/auth/callback" },
    });
    const { location } = await follow(linkIn(await latestMailTo(listed)));
    expect(`${location.origin}${location.pathname}`).toBe("https://app.example.com/auth/callback");
  });

  it("when the link's token hash is verified with verifyOtp({ token_hash }), then a session is returned", async () => {
    const email = address();
    await client().auth.signInWithOtp({ email });
    const hash = new URL(linkIn(await latestMailTo(email))).searchParams.get("token")!;
    const { data, error } = await client().auth.verifyOtp({ token_hash: hash, type: "magiclink" });
    expect(error).toBeNull();
    expect(data.user?.email).toBe(email);
  });
});

describe("admin invite", () => {
  it("when an admin invites an address, then the user exists unconfirmed and following the invite link signs them in", async () => {
    const email = address();
    const redirectTo = `${SITE_URL}/accept`;
    const { data, error } = await admin().auth.admin.inviteUserByEmail(email, {
      redirectTo,
      data: { display_name: "Ivy" },
    });
    expect(error).toBeNull();
    expect(data.user?.email).toBe(email);
    expect(data.user?.invited_at).toBeTruthy();
    expect(data.user?.email_confirmed_at).toBeUndefined();
    expect(data.user?.user_metadata.display_name).toBe("Ivy");

    const mail = await latestMailTo(email);
    expect(mail.Subject).toBe("You have been invited");
    const link = linkIn(mail);
    expect(new URL(link).searchParams.get("type")).toBe("invite");
    const { status, location, fragment } = await follow(link);
    expect(status).toBe(303);
    expect(`${location.origin}${location.pathname}`).toBe(redirectTo);
    expect(fragment.get("type")).toBe("invite");

    const invitee = client();
    const me = await invitee.auth.getUser(fragment.get("access_token")!);
    expect(me.data.user?.id).toBe(data.user!.id);
    expect(me.data.user?.email_confirmed_at).toBeTruthy();
  });

  it("when the invitee types the code from the invite instead, then verifyOtp type invite signs them in", async () => {
    const email = address();
    await admin().auth.admin.inviteUserByEmail(email);
    const { data, error } = await client().auth.verifyOtp({
      email,
      token: codeIn(await latestMailTo(email)),
      type: "invite",
    });
    expect(error).toBeNull();
    expect(data.user?.email).toBe(email);
  });

  it("when the address already belongs to a confirmed user, then 422 email_exists", async () => {
    const email = address();
    await client().auth.signUp({ email, password: "correct-horse-battery" });
    const { error } = await admin().auth.admin.inviteUserByEmail(email);
    expect(error?.status).toBe(422);
    expect(error?.code).toBe("email_exists");
  });

  it("when a non-admin invites, then 403 not_admin", async () => {
    const { error } = await client().auth.admin.inviteUserByEmail(address());
    expect(error?.status).toBe(403);
    expect(error?.code).toBe("not_admin");
  });
});

describe("password recovery", () => {
  it("when a user asks to reset the password, then the recovery link signs them in and they can set a new one", async () => {
    const email = address();
    await client().auth.signUp({ email, password: "correct-horse-battery" });
    const sent = await client().auth.resetPasswordForEmail(email, { redirectTo: `${SITE_URL}/reset` });
    expect(sent.error).toBeNull();
    const mail = await latestMailTo(email);
    expect(mail.Subject).toBe("Reset Your Password");
    const { location, fragment } = await follow(linkIn(mail));
    expect(location.pathname).toBe("/reset");
    expect(fragment.get("type")).toBe("recovery");

    const supabase = client();
    await supabase.auth.setSession({
      access_token: fragment.get("access_token")!,
      refresh_token: fragment.get("refresh_token")!,
    });
    expect((await supabase.auth.updateUser({ password: "a-brand-new-secret" })).error).toBeNull();
    const signedIn = await client().auth.signInWithPassword({ email, password: "a-brand-new-secret" });
    expect(signedIn.error).toBeNull();
  });

  it("when the address has no user, then the answer is the same 200 and no mail is sent", async () => {
    const email = address();
    const { error } = await client().auth.resetPasswordForEmail(email);
    expect(error).toBeNull();
    expect(await mailIds(inbox, email)).toEqual([]);
  });
});

describe("inbox", () => {
  it("when a mail is deleted by ID, then only that one disappears", async () => {
    const keep = address();
    const drop = address();
    await client().auth.signInWithOtp({ email: keep });
    await client().auth.signInWithOtp({ email: drop });
    const dropped = await latestMailTo(drop);
    const res = await fetch(`${inbox}/api/v1/messages`, {
      method: "DELETE",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ IDs: [dropped.ID] }),
    });
    expect(res.status).toBe(200);
    expect((await fetch(`${inbox}/api/v1/message/${dropped.ID}`)).status).toBe(404);
    expect((await latestMailTo(keep)).To[0]!.Address).toBe(keep);
  });

  it("when mails were sent, then the page lists them and the messages API pages them newest first", async () => {
    const first = address();
    const second = address();
    await client().auth.signInWithOtp({ email: first });
    await client().auth.signInWithOtp({ email: second });
    const list = (await (await fetch(`${inbox}/api/v1/messages?limit=2`)).json()) as {
      total: number;
      count: number;
      messages: { To: { Address: string }[]; Subject: string }[];
    };
    expect(list.count).toBe(2);
    expect(list.total).toBeGreaterThanOrEqual(2);
    expect(list.messages.map((m) => m.To[0]!.Address)).toContain(second);
    const page = await fetch(`${inbox}/`);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain(first);
    expect(html).toContain("Your Magic Link");
  });

  it("when a function sends mail through the inbox's Resend-shaped API, then it is listed like Auth's; without a key or recipient it is refused", async () => {
    const to = address();
    const send = (headers: Record<string, string>, payload: unknown) =>
      fetch(`${inbox}${RESEND_PATH}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(payload),
      });
    const mail = {
      from: "Roomkit <n@example.com>",
      to: [to],
      subject: "Ada mentioned you",
      text: "hi",
      html: "<p>hi</p>",
    };
    expect((await send({}, mail)).status).toBe(401);
    expect((await send({ authorization: "Bearer local-only" }, { ...mail, to: [] })).status).toBe(422);
    const ok = await send({ authorization: "Bearer local-only" }, mail);
    expect(ok.status).toBe(200);
    const { id } = (await ok.json()) as { id: string };
    expect((await latestMailTo(to)).ID).toBe(id);
    expect((await latestMailTo(to)).Subject).toBe("Ada mentioned you");
  });

  it("when a message id is unknown, then 404", async () => {
    expect((await fetch(`${inbox}/api/v1/message/nope`)).status).toBe(404);
  });
});
