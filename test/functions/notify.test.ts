/**
 * Notifications end to end over HTTP against real Deno and Postgres: invites by email (Auth's own
 * invite mail for new addresses, the email API for members), Web Push (VAPID, aes128gcm), the
 * outbox's decisions (preferences, read, rate limit) and the RLS of subscriptions and preferences.
 * The push service and the email provider are faked at their HTTP edge (they cannot run here);
 * Auth's invite mail lands in the local stack's inbox.
 */
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AI_USER_ID, type PushPayload } from "../../functions/_shared/contract.ts";
import { as } from "../support/acting.ts";
import { type FakeEmailApi, startFakeEmailApi } from "../support/fake-email-api.ts";
import {
  decryptPush,
  type FakePushService,
  type FakeSubscription,
  startFakePushService,
} from "../support/fake-push.ts";
import { mailIds, mailTo, verifyLink } from "../support/inbox.ts";
import { privateRoom } from "../support/rooms.ts";
import { eventually } from "../support/wait.ts";
import { body, type FunctionsStack, startFunctionsStack, type TestUser } from "./support.ts";

const APP_URL = "http://127.0.0.1:3000";
const EMAIL_KEY = "re_test_only_key";
/** Mentions and AI replies wait this long for the recipient to read them (the default is 20 s). */
const DELAY_SECONDS = 1;
/** Per (sender, recipient) pair and per sender, per minute; Auth invites per inviter per day. */
const PER_PAIR = 4;
const PER_SENDER = 8;
const AUTH_INVITES_PER_DAY = 3;

let f: FunctionsStack;
let push: FakePushService;
let email: FakeEmailApi;
let vapidKey: string;

beforeAll(async () => {
  push = await startFakePushService();
  email = await startFakeEmailApi();
  f = await startFunctionsStack({
    notifyIntervalMs: 200,
    functionsEnv: {
      ROOMKIT_PUSH_ORIGINS: push.origin,
      ROOMKIT_EMAIL_API_URL: email.url,
      ROOMKIT_EMAIL_API_KEY: EMAIL_KEY,
      ROOMKIT_EMAIL_FROM: "Roomkit <notify@example.com>",
      ROOMKIT_APP_URL: APP_URL,
    },
  });
  await f.sql`
    update roomkit_private.limits
    set notify_delay_seconds = ${DELAY_SECONDS}, notifications_per_pair_per_minute = ${PER_PAIR},
        notifications_per_sender_per_minute = ${PER_SENDER}, auth_invites_per_day = ${AUTH_INVITES_PER_DAY}`;
  const someone = await f.user("Config");
  vapidKey = (
    await body<{ vapid_public_key: string }>(await f.call("notify/config", { token: someone.token }))
  ).vapid_public_key;
});
afterAll(async () => {
  await f?.stop();
  await push?.close();
  await email?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: assertions walk JSON bodies of known shape
type Json = Record<string, any>;

/** A user's raw REST call to a Roomkit table, as supabase-js would make it. */
function rest(user: TestUser, path: string, init: { method?: string; body?: unknown; prefer?: string } = {}) {
  return fetch(`${f.stack.url}/rest/v1/${path}`, {
    method: init.method ?? "GET",
    headers: {
      apikey: f.stack.anonKey,
      authorization: `Bearer ${user.token}`,
      "accept-profile": "roomkit",
      "content-profile": "roomkit",
      "content-type": "application/json",
      ...(init.prefer ? { prefer: init.prefer } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}

/** The user's browser subscribes on the fake push service and registers the subscription over REST. */
async function subscribe(user: TestUser, status = 201): Promise<FakeSubscription> {
  const sub = push.subscribe(status);
  const res = await rest(user, "push_subscriptions", {
    method: "POST",
    body: { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth, user_agent: "test" },
  });
  expect(res.status).toBe(201);
  return sub;
}

async function addMember(room: string, user: TestUser): Promise<void> {
  await f.sql`insert into roomkit.room_members (room_id, user_id, role) values (${room}, ${user.id}, 'member')`;
}

async function say(user: TestUser, room: string, text: string): Promise<string> {
  const [row] = await as(
    f.sql,
    user,
    (tx) => tx<{ id: string }[]>`select id from roomkit.send_message(${room}, ${text})`,
  );
  return row!.id;
}

/** Waits until every notification about `room` has been decided (sent or skipped), then returns their outcomes. */
async function settled(room: string, count: number): Promise<Json[]> {
  return eventually(
    async () => {
      const rows = await f.sql<
        { recipient_id: string | null; kind: string; outcome: Json | null; done: boolean }[]
      >`
        select recipient_id, kind, outcome, sent_at is not null as done
        from roomkit_private.notifications where room_id = ${room} order by id`;
      return rows.length >= count && rows.every((r) => r.done) ? [...rows] : undefined;
    },
    15_000,
    `the notifications of room ${room} to settle`,
  );
}

/** Makes the user an anonymous guest (as `signInAnonymously` would have). */
async function sqlGuest(userId: string): Promise<void> {
  await f.sql`update auth.users set is_anonymous = true, email = null, email_confirmed_at = null where id = ${userId}`;
}

/** Makes the user's email unconfirmed. */
async function sqlUnconfirmed(userId: string): Promise<void> {
  await f.sql`
    update auth.users set is_anonymous = false, email = ${`u-${userId}@example.com`}, email_confirmed_at = null
    where id = ${userId}`;
}

/** The local stack's inbox, where Auth's mails land. */
const inbox = () => f.stack.inboxUrl!;

function payloadOf(sub: FakeSubscription, req: { body: Buffer }): PushPayload {
  return JSON.parse(decryptPush(sub, req.body)) as PushPayload;
}

describe("invites by email", () => {
  test("when an address without an account and one with an account are invited, then both answers are identical, the new address gets Auth's invite mail and the member gets a mail and a push", async () => {
    const alice = await f.user("Alice");
    const bob = await f.user("Bob");
    const bobPush = await subscribe(bob);
    const room = await privateRoom(f.sql, alice, { name: "Book club" });
    const stranger = `new-${crypto.randomUUID().slice(0, 8)}@example.com`;

    const toStranger = await f.call("invites", {
      method: "POST",
      token: alice.token,
      body: { room_id: room, invitee_email: stranger },
    });
    const toBob = await f.call("invites", {
      method: "POST",
      token: alice.token,
      body: { room_id: room, invitee_email: bob.email },
    });
    expect(toStranger.status).toBe(toBob.status);
    const [a, b] = [(await body<Json>(toStranger)).invite, (await body<Json>(toBob)).invite];
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    const shape = (i: Json) => ({ ...i, id: "", invitee_email: "", created_at: "", expires_at: "" });
    expect(shape(a)).toEqual(shape(b));
    expect(a.invitee_id).toBeNull();

    // The member: a mail through the email API and a push, both naming the inviter and the room.
    const mail = await email.received(bob.email);
    expect(mail).toMatchObject({
      authorization: `Bearer ${EMAIL_KEY}`,
      from: "Roomkit <notify@example.com>",
    });
    expect(mail.subject).toBe("Alice invited you to Book club");
    expect(mail.text).toContain(`${APP_URL}#/invites`);
    const [pushed] = await push.received(bobPush.endpoint);
    expect(payloadOf(bobPush, pushed!)).toEqual({
      kind: "invite",
      title: "Alice invited you to Book club",
      body: "Open Roomkit to accept or decline.",
      url: "#/invites",
      tag: `invite:${room}`,
      room_id: room,
    });

    // The new address: Auth's invite mail, with a link back to the app.
    const invite = await mailTo(inbox(), stranger);
    expect(invite.Subject).toBe("You have been invited");
    expect(invite.Text).toContain(encodeURIComponent(APP_URL));

    // Each got only its own kind of mail.
    await settled(room, 2);
    expect(email.sent.filter((m) => m.to.includes(stranger))).toEqual([]);
    expect(await mailIds(inbox(), bob.email)).toEqual([]);
  });

  test("when a brand-new person follows the mailed link, then they are signed in, find the invite pending and accepting lands them in the room", async () => {
    const alice = await f.user("Alice");
    const room = await privateRoom(f.sql, alice, { name: "Launch team" });
    const stranger = `fresh-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const sent = await f.call("invites", {
      method: "POST",
      token: alice.token,
      body: { room_id: room, invitee_email: stranger },
    });
    expect(sent.status).toBe(201);

    const mail = await mailTo(inbox(), stranger);
    // Auth made a user for the address, but nobody can tell: its profile stays hidden until they accept.
    const localPart = stranger.split("@")[0]!;
    const seen = async () => (await rest(alice, `profiles?select=id&display_name=eq.${localPart}`)).json();
    expect(await seen()).toEqual([]);
    const followed = await fetch(verifyLink(mail), { redirect: "manual" });
    expect(followed.status).toBe(303);
    const location = new URL(followed.headers.get("location")!);
    expect(location.origin).toBe(APP_URL);
    const token = new URLSearchParams(location.hash.slice(1)).get("access_token");
    expect(token).toBeTruthy();

    const pending = await body<Json>(await f.call("invites?status=pending", { token: token! }));
    expect(pending.invites).toHaveLength(1);
    expect(pending.invites[0]).toMatchObject({
      room: { id: room, name: "Launch team" },
      inviter: { display_name: "Alice" },
    });
    const accepted = await f.call(`invites/${pending.invites[0].id}/accept`, {
      method: "POST",
      token: token!,
    });
    expect(accepted.status).toBe(200);
    const { membership } = await body<Json>(accepted);
    const [member] =
      await f.sql`select user_id from roomkit.room_members where room_id = ${room} and user_id = ${membership.user_id} and left_at is null`;
    expect(member).toBeDefined();
    expect(await seen()).toEqual([{ id: membership.user_id }]);
  });
});

describe("invites by email, hostile cases", () => {
  test("when someone signed up with the address but never confirmed it, then no Auth invite (which would confirm an account whose password someone else chose) but a plain mail without a sign-in link", async () => {
    const alice = await f.user("Alice");
    const victim = `victim-${crypto.randomUUID().slice(0, 8)}@example.com`;
    // Mallory signed up with the victim's address and a password of hers; it was never confirmed.
    await f.sql`
      insert into auth.users (instance_id, id, aud, role, email, encrypted_password, raw_app_meta_data,
                              raw_user_meta_data, created_at, updated_at)
      values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated',
              ${victim}, '$2a$10$abcdefghijklmnopqrstuuJ3JmJZbOpbU2Fy0l4m0YRJpQ4nq0Vqy',
              '{"provider":"email"}', '{}', now(), now())`;
    const room = await privateRoom(f.sql, alice, { name: "Trap" });
    const sent = await f.call("invites", {
      method: "POST",
      token: alice.token,
      body: { room_id: room, invitee_email: victim },
    });
    expect(sent.status).toBe(201);

    const mail = await email.received(victim);
    expect(mail.subject).toBe("Alice invited you to Trap");
    expect(mail.text).not.toContain("/auth/v1/verify");
    await settled(room, 1);
    expect(await mailIds(inbox(), victim)).toEqual([]);
  });

  test("when a guest or a user without a confirmed email invites by email, then 403 forbidden and nothing is sent", async () => {
    const alice = await f.user("Alice");
    const room = await privateRoom(f.sql, alice, { name: "Guests" });
    for (const change of [sqlGuest, sqlUnconfirmed]) {
      await change(alice.id);
      const res = await f.call("invites", {
        method: "POST",
        token: alice.token,
        body: { room_id: room, invitee_email: `x-${crypto.randomUUID().slice(0, 8)}@example.com` },
      });
      expect(res.status).toBe(403);
      expect((await body<Json>(res)).error.code).toBe("forbidden");
    }
    const [counted] = await f.sql<{ n: number }[]>`
      select count(*)::int as n from roomkit.room_invites where room_id = ${room}`;
    expect(counted!.n).toBe(0);
  });

  test("when one inviter asks for more Auth invites to new addresses than the daily limit, then the rest are not mailed (the invites still stand)", async () => {
    const alice = await f.user("Alice");
    const room = await privateRoom(f.sql, alice, { name: "Growth" });
    const addresses = Array.from(
      { length: AUTH_INVITES_PER_DAY + 1 },
      () => `g-${crypto.randomUUID().slice(0, 8)}@example.com`,
    );
    for (const address of addresses) {
      const res = await f.call("invites", {
        method: "POST",
        token: alice.token,
        body: { room_id: room, invitee_email: address },
      });
      expect(res.status).toBe(201);
    }
    const outcomes = await settled(room, AUTH_INVITES_PER_DAY);
    expect(outcomes.map((o) => o.outcome.email)).toEqual(
      Array(AUTH_INVITES_PER_DAY).fill("auth_invite_sent"),
    );
    await mailTo(inbox(), addresses[AUTH_INVITES_PER_DAY - 1]!);
    expect(await mailIds(inbox(), addresses[AUTH_INVITES_PER_DAY]!)).toEqual([]);
  });
});

describe("senders and subscriptions under pressure", () => {
  test("when several notify calls run at once, then every notification is sent exactly once", async () => {
    const alice = await f.user("Alice");
    const room = await privateRoom(f.sql, alice, { name: "Busy" });
    const subs: FakeSubscription[] = [];
    for (let i = 0; i < PER_SENDER; i++) {
      const u = await f.user(`Busy${i}`);
      subs.push(await subscribe(u));
      await as(f.sql, alice, (tx) => tx`select roomkit.send_invite(${room}, ${u.id}::uuid)`);
    }
    const service = { token: f.stack.serviceRoleKey, method: "POST" };
    await Promise.all([f.call("notify", service), f.call("notify", service), f.call("notify", service)]);
    await settled(room, PER_SENDER);
    for (const sub of subs)
      expect(push.requests.filter((r) => sub.endpoint.endsWith(r.path))).toHaveLength(1);
  });

  test("when a sender's lease has run out, then its outcome is not recorded", async () => {
    const alice = await f.user("Alice");
    const bob = await f.user("Bob");
    const room = await privateRoom(f.sql, alice, { name: "Lease" });
    await as(f.sql, alice, (tx) => tx`select roomkit.send_invite(${room}, ${bob.id}::uuid)`);
    await settled(room, 1);
    const [lease] = await f.sql<{ finished: boolean }[]>`
      select roomkit_private.finish_notification(n.id, gen_random_uuid(), '{"skipped":"stale"}', false) as finished
      from roomkit_private.notifications n where n.room_id = ${room}`;
    expect(lease!.finished).toBe(false);
    const [after] = await settled(room, 1);
    expect(after!.outcome).not.toEqual({ skipped: "stale" });
  });

  test("when the session that registered a subscription signs out, then that browser gets no more pushes and its row goes", async () => {
    const alice = await f.user("Alice");
    const client = f.stack.client();
    const address = `session-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const { data, error } = await client.auth.signUp({ email: address, password: "a-long-password-1" });
    expect(error).toBeNull();
    const bob: TestUser = {
      kind: "user",
      id: data.user!.id,
      name: "Bob",
      email: address,
      token: data.session!.access_token,
    };
    const sub = await subscribe(bob);
    const [row] = await f.sql`select session_id from roomkit.push_subscriptions where user_id = ${bob.id}`;
    expect(row!.session_id).not.toBeNull();
    await client.auth.signOut();

    const room = await privateRoom(f.sql, alice, { name: "After sign-out" });
    await as(f.sql, alice, (tx) => tx`select roomkit.send_invite(${room}, ${bob.id}::uuid)`);
    const [outcome] = await settled(room, 1);
    expect(outcome!.outcome.push).toEqual({});
    expect(push.requests.filter((r) => sub.endpoint.endsWith(r.path))).toEqual([]);
    expect(await f.sql`select 1 from roomkit.push_subscriptions where user_id = ${bob.id}`).toHaveLength(0);
  });

  test("when a user saves 30 subscriptions at once, then at most 10 are kept", async () => {
    const bob = await f.user("Bob");
    const results = await Promise.all(
      Array.from({ length: 30 }, () => {
        const sub = push.subscribe();
        return rest(bob, "push_subscriptions", {
          method: "POST",
          body: { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth },
        });
      }),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(10);
    expect(results.filter((r) => r.status === 400)).toHaveLength(20);
  });
});

describe("web push", () => {
  test("when a push is sent, then it is a well-formed Web Push: VAPID JWT for the endpoint's origin, TTL, aes128gcm, a payload the subscription's keys decrypt", async () => {
    const alice = await f.user("Alice");
    const bob = await f.user("Bob");
    const sub = await subscribe(bob);
    const room = await privateRoom(f.sql, alice, { name: "Design" });
    await f.call("invites", {
      method: "POST",
      token: alice.token,
      body: { room_id: room, invitee_id: bob.id },
    });

    const [req] = await push.received(sub.endpoint);
    expect(req!.headers["content-encoding"]).toBe("aes128gcm");
    expect(Number(req!.headers.ttl)).toBeGreaterThan(0);
    const authz = /^vapid t=([^,]+), k=(.+)$/.exec(String(req!.headers.authorization));
    expect(authz).not.toBeNull();
    const [, jwt, k] = authz!;
    expect(k).toBe(vapidKey);
    expect(decodeProtectedHeader(jwt!).alg).toBe("ES256");
    const point = Buffer.from(vapidKey, "base64url");
    const key = await importJWK(
      {
        kty: "EC",
        crv: "P-256",
        x: point.subarray(1, 33).toString("base64url"),
        y: point.subarray(33, 65).toString("base64url"),
      },
      "ES256",
    );
    const { payload } = await jwtVerify(jwt!, key, { audience: push.origin });
    expect(payload.sub).toMatch(/^mailto:/);
    expect(payload.exp! - Date.now() / 1000).toBeLessThanOrEqual(24 * 3600);
    expect(payloadOf(sub, req!)).toMatchObject({
      kind: "invite",
      room_id: room,
      title: "Alice invited you to Design",
    });
  });

  test("when the push service answers 410 for a subscription, then that subscription is removed and the others stay", async () => {
    const alice = await f.user("Alice");
    const bob = await f.user("Bob");
    const gone = await subscribe(bob, 410);
    const alive = await subscribe(bob);
    const room = await privateRoom(f.sql, alice, { name: "Ops" });
    await f.call("invites", {
      method: "POST",
      token: alice.token,
      body: { room_id: room, invitee_id: bob.id },
    });

    await push.received(gone.endpoint);
    await push.received(alive.endpoint);
    const [outcome] = await settled(room, 1);
    expect(outcome!.outcome.push).toEqual({ sent: 1, gone: 1 });
    const left = await rest(bob, "push_subscriptions?select=endpoint");
    expect(await left.json()).toEqual([{ endpoint: alive.endpoint }]);
  });

  test("when a subscription names a server that is not a push service, then nothing is ever sent to it", async () => {
    const alice = await f.user("Alice");
    const bob = await f.user("Bob");
    const outsider = await startFakePushService();
    try {
      const aimed = outsider.subscribe();
      const res = await rest(bob, "push_subscriptions", {
        method: "POST",
        body: { endpoint: aimed.endpoint, p256dh: aimed.p256dh, auth: aimed.auth },
      });
      expect(res.status).toBe(201);
      const real = await subscribe(bob);
      const room = await privateRoom(f.sql, alice, { name: "Internal" });
      await f.call("invites", {
        method: "POST",
        token: alice.token,
        body: { room_id: room, invitee_id: bob.id },
      });
      await push.received(real.endpoint);
      const [outcome] = await settled(room, 1);
      expect(outcome!.outcome.push).toEqual({ sent: 1, refused: 1 });
      expect(outsider.requests).toEqual([]);
    } finally {
      await outsider.close();
    }
  });
});

describe("mentions and AI replies", () => {
  test("when a message mentions two members, then the one who is away gets a push and a mail, and the one who read it meanwhile gets nothing", async () => {
    const carol = await f.user("Carol");
    const bob = await f.user(`Bob ${crypto.randomUUID().slice(0, 4)}`);
    const dave = await f.user(`Dave ${crypto.randomUUID().slice(0, 4)}`);
    const room = await privateRoom(f.sql, carol, { name: "Standup" });
    await addMember(room, bob);
    await addMember(room, dave);
    const bobPush = await subscribe(bob);
    const davePush = await subscribe(dave);

    await say(carol, room, `@${bob.name} and @${dave.name.toLowerCase()}: ready?`);
    // Bob is looking: his app marks the room read before the delay is up.
    await as(f.sql, bob, (tx) => tx`select roomkit.mark_room_read(${room})`);

    const [pushed] = await push.received(davePush.endpoint);
    expect(payloadOf(davePush, pushed!)).toEqual({
      kind: "mention",
      title: "Carol mentioned you in Standup",
      body: `@${bob.name} and @${dave.name.toLowerCase()}: ready?`,
      url: `#/rooms/${room}`,
      tag: `room:${room}`,
      room_id: room,
    });
    expect((await email.received(dave.email)).subject).toBe("Carol mentioned you in Standup");
    const outcomes = await settled(room, 2);
    expect(outcomes.find((o) => o.recipient_id === bob.id)!.outcome).toEqual({ skipped: "read" });
    expect(push.requests.filter((r) => bobPush.endpoint.endsWith(r.path))).toEqual([]);
    expect(email.sent.filter((m) => m.to.includes(bob.email))).toEqual([]);
  });

  test("when the AI answers a member's question, then that member gets a push with the answer", async () => {
    const bob = await f.user("Bob");
    const room = await privateRoom(f.sql, bob, { name: "Research" });
    const sub = await subscribe(bob);
    const question = await say(bob, room, "What is RLS?");
    await f.sql`
      insert into roomkit.room_messages (room_id, sender_id, kind, body, metadata)
      values (${room}, ${AI_USER_ID}, 'ai', 'Row-level security.', ${f.sql.json({ reply_to: question })})`;

    const [pushed] = await push.received(sub.endpoint);
    expect(payloadOf(sub, pushed!)).toMatchObject({
      kind: "ai_reply",
      title: "Roomkit AI replied to you in Research",
      body: "Row-level security.",
    });
  });

  test("when a user switches a kind off, then neither push nor mail of that kind reaches them, while others still get theirs", async () => {
    const carol = await f.user("Carol");
    const bob = await f.user(`Quiet ${crypto.randomUUID().slice(0, 4)}`);
    const dave = await f.user(`Loud ${crypto.randomUUID().slice(0, 4)}`);
    const room = await privateRoom(f.sql, carol, { name: "Prefs" });
    await addMember(room, bob);
    await addMember(room, dave);
    const bobPush = await subscribe(bob);
    const davePush = await subscribe(dave);
    const saved = await rest(bob, "notification_preferences", {
      method: "POST",
      body: { invites: false, mentions: false, ai_replies: false },
      prefer: "return=representation",
    });
    expect(saved.status).toBe(201);

    // A mention of both, an AI reply to each, and (in another room) an invite to each.
    await say(carol, room, `@${bob.name} @${dave.name} look`);
    for (const asker of [bob, dave]) {
      const q = await say(asker, room, "question?");
      await f.sql`insert into roomkit.room_messages (room_id, sender_id, kind, body, metadata)
                  values (${room}, ${AI_USER_ID}, 'ai', 'answer', ${f.sql.json({ reply_to: q })})`;
    }
    const other = await privateRoom(f.sql, carol, { name: "Prefs 2" });
    for (const who of [bob, dave])
      await f.call("invites", {
        method: "POST",
        token: carol.token,
        body: { room_id: other, invitee_id: who.id },
      });

    // Dave's three arrive; nothing was even queued for Bob.
    await push.received(davePush.endpoint, 3);
    const outcomes = [...(await settled(room, 2)), ...(await settled(other, 1))];
    expect(outcomes.map((o) => o.recipient_id)).toEqual([dave.id, dave.id, dave.id]);
    expect(push.requests.filter((r) => bobPush.endpoint.endsWith(r.path))).toEqual([]);
    expect(email.sent.filter((m) => m.to.includes(bob.email))).toEqual([]);
  });

  test("when a user switches mentions off after a mention was queued, then it is not sent", async () => {
    const carol = await f.user("Carol");
    const bob = await f.user(`Later ${crypto.randomUUID().slice(0, 4)}`);
    const room = await privateRoom(f.sql, carol, { name: "Prefs later" });
    await addMember(room, bob);
    const sub = await subscribe(bob);
    await say(carol, room, `@${bob.name} soon`);
    await rest(bob, "notification_preferences", { method: "POST", body: { mentions: false } });
    const [outcome] = await settled(room, 1);
    expect(outcome!.outcome).toEqual({ skipped: "preference" });
    expect(push.requests.filter((r) => sub.endpoint.endsWith(r.path))).toEqual([]);
  });

  test("when one member sends a burst of mentions, then the recipient gets at most the per-pair limit from them, and others still reach the recipient", async () => {
    const carol = await f.user("Carol");
    const dave = await f.user("Dave");
    const bob = await f.user(`Target ${crypto.randomUUID().slice(0, 4)}`);
    const room = await privateRoom(f.sql, carol, { name: "Spam" });
    await addMember(room, bob);
    await addMember(room, dave);
    const sub = await subscribe(bob);
    for (let i = 0; i < PER_PAIR + 6; i++) await say(carol, room, `@${bob.name} ping ${i}`);
    // Carol's flood does not use up what others may send Bob: Dave's mention still goes out.
    await say(dave, room, `@${bob.name} real question`);

    const outcomes = await settled(room, PER_PAIR + 1);
    expect(outcomes).toHaveLength(PER_PAIR + 1);
    const pushed = await push.received(sub.endpoint, PER_PAIR + 1);
    expect(pushed.map((p) => payloadOf(sub, p).title)).toContain("Dave mentioned you in Spam");
    expect(push.requests.filter((r) => sub.endpoint.endsWith(r.path))).toHaveLength(PER_PAIR + 1);
  });

  test("when one message mentions more members than the per-sender limit, then only that many are notified", async () => {
    const carol = await f.user("Carol");
    const room = await privateRoom(f.sql, carol, { name: "Crowd" });
    const members: TestUser[] = [];
    for (let i = 0; i < PER_SENDER + 2; i++) {
      const m = await f.user(`Crowd${i} ${crypto.randomUUID().slice(0, 4)}`);
      await addMember(room, m);
      members.push(m);
    }
    await say(carol, room, members.map((m) => `@${m.name}`).join(" "));
    const [counted] = await f.sql<{ n: number }[]>`
      select count(*)::int as n from roomkit_private.notifications where room_id = ${room}`;
    expect(counted!.n).toBe(PER_SENDER);
  });
});

describe("who may see and change subscriptions and preferences", () => {
  test("when a user reads, changes or removes another user's subscription or preferences, then nothing is seen or changed; their own they may", async () => {
    const bob = await f.user("Bob");
    const mallory = await f.user("Mallory");
    const sub = await subscribe(bob);
    await rest(bob, "notification_preferences", { method: "POST", body: { mentions: false } });

    // Mallory sees none of Bob's rows.
    expect(await (await rest(mallory, "push_subscriptions?select=id")).json()).toEqual([]);
    expect(await (await rest(mallory, "notification_preferences?select=user_id")).json()).toEqual([]);
    // She cannot write a row in his name (user_id is not a column clients may set).
    const forged = await rest(mallory, "push_subscriptions", {
      method: "POST",
      body: { user_id: bob.id, endpoint: `${push.origin}/push/forged`, p256dh: sub.p256dh, auth: sub.auth },
    });
    expect([401, 403]).toContain(forged.status);
    // Updates and deletes of his rows touch nothing.
    const stolen = await rest(mallory, `push_subscriptions?endpoint=eq.${encodeURIComponent(sub.endpoint)}`, {
      method: "PATCH",
      body: { auth: "A".repeat(22) },
      prefer: "return=representation",
    });
    expect(await stolen.json()).toEqual([]);
    await rest(mallory, `push_subscriptions?endpoint=eq.${encodeURIComponent(sub.endpoint)}`, {
      method: "DELETE",
    });
    await rest(mallory, `notification_preferences?user_id=eq.${bob.id}`, {
      method: "PATCH",
      body: { mentions: true },
    });
    const [row] = await f.sql`select auth from roomkit.push_subscriptions where endpoint = ${sub.endpoint}`;
    expect(row!.auth).toBe(sub.auth);
    const [prefs] =
      await f.sql`select mentions from roomkit.notification_preferences where user_id = ${bob.id}`;
    expect(prefs!.mentions).toBe(false);

    // Bob sees, changes and removes his own.
    expect(await (await rest(bob, "notification_preferences?select=mentions")).json()).toEqual([
      { mentions: false },
    ]);
    const renewed = await rest(bob, `push_subscriptions?endpoint=eq.${encodeURIComponent(sub.endpoint)}`, {
      method: "PATCH",
      body: { user_agent: "renewed" },
      prefer: "return=representation",
    });
    expect(await renewed.json()).toMatchObject([{ user_agent: "renewed" }]);
    await rest(bob, `push_subscriptions?endpoint=eq.${encodeURIComponent(sub.endpoint)}`, {
      method: "DELETE",
    });
    expect(await (await rest(bob, "push_subscriptions?select=id")).json()).toEqual([]);
  });

  test("when a browser saves the same subscription again with new keys (supabase-js upsert), then it stays one row with the new keys", async () => {
    const bob = await f.user("Bob");
    const first = push.subscribe();
    const renewed = push.subscribe();
    const save = (keys: FakeSubscription) =>
      rest(bob, "push_subscriptions?on_conflict=user_id,endpoint", {
        method: "POST",
        body: { endpoint: first.endpoint, p256dh: keys.p256dh, auth: keys.auth },
        prefer: "resolution=merge-duplicates",
      });
    expect((await save(first)).status).toBe(201);
    // PostgREST answers 200 when the upsert inserted nothing.
    expect((await save(renewed)).status).toBe(200);
    const rows = await (await rest(bob, "push_subscriptions?select=endpoint,auth")).json();
    expect(rows).toEqual([{ endpoint: first.endpoint, auth: renewed.auth }]);
  });

  test("when a caller who is not the service role asks notify to send, then it is refused; any signed-in user gets the VAPID public key", async () => {
    const bob = await f.user("Bob");
    const refused = await f.call("notify", { method: "POST", token: bob.token });
    expect(refused.status).toBe(403);
    expect(vapidKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    const anon = await f.call("notify/config");
    expect(anon.status).toBe(401);
  });
});
