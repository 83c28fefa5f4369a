import { createHash, randomBytes } from "node:crypto";
import { AccessToken } from "livekit-server-sdk";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { coworkingRoom } from "../support/rooms.ts";
import { EXTERNAL_STACK, localOnly } from "../support/stack.ts";
import { body, type FunctionsStack, rowCounts, startFunctionsStack, type TestUser } from "./support.ts";

// Webhooks are signed here exactly as LiveKit signs them (the SDK's AccessToken carrying the body's
// sha256, sent as the bare JWT in Authorization); no LiveKit server is involved.
const API_KEY = "APIwebhooktest";
const API_SECRET = randomBytes(32).toString("hex");

let f: FunctionsStack;
beforeAll(async () => {
  f = await startFunctionsStack(
    localOnly({
      functionsEnv: {
        LIVEKIT_URL: "ws://127.0.0.1:9",
        LIVEKIT_API_KEY: API_KEY,
        LIVEKIT_API_SECRET: API_SECRET,
      },
    }),
  );
});
afterAll(() => f?.stop());

async function sign(raw: string, secret = API_SECRET): Promise<string> {
  const token = new AccessToken(API_KEY, secret);
  token.sha256 = createHash("sha256").update(raw).digest("base64");
  return token.toJwt();
}

let seq = 0;
function event(kind: string, roomId: string, participant?: Record<string, unknown>): Record<string, unknown> {
  seq++;
  return {
    event: kind,
    id: `EV_${randomBytes(6).toString("hex")}`,
    createdAt: String(Math.floor(Date.now() / 1000) + seq),
    room: { sid: "RM_test", name: `roomkit-${roomId}` },
    ...(participant ? { participant: { state: "ACTIVE", ...participant } } : {}),
  };
}

/** LiveKit's participant_left for `user`'s connection `sid`, with its disconnect reason when given. */
function leftEvent(
  roomId: string,
  user: TestUser,
  sid: string,
  disconnectReason?: string,
): Record<string, unknown> {
  return event("participant_left", roomId, {
    sid,
    identity: user.id,
    ...(disconnectReason ? { disconnectReason } : {}),
  });
}

async function deliver(payload: unknown, options: { raw?: string; auth?: string | null } = {}) {
  const raw = options.raw ?? JSON.stringify(payload);
  const auth = options.auth === undefined ? await sign(raw) : options.auth;
  return f.call("livekit-webhook", {
    method: "POST",
    token: null,
    body: raw,
    headers: {
      apikey: "",
      "content-type": "application/webhook+json",
      ...(auth ? { authorization: auth } : {}),
    },
  });
}

async function voiceConnected(roomId: string, user: TestUser): Promise<boolean> {
  const [row] =
    await f.sql`select voice_connected from roomkit.room_members where room_id = ${roomId} and user_id = ${user.id}`;
  return row!.voice_connected as boolean;
}

async function joinedUser(roomId: string, name = "Ada"): Promise<TestUser> {
  const user = await f.user(name);
  expect((await f.call(`coworking/rooms/${roomId}/join`, { method: "POST", token: user.token })).status).toBe(
    200,
  );
  return user;
}

describe("livekit-webhook", () => {
  // Signs webhooks with the LiveKit keys the test gives the functions (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when LiveKit reports a join and then a leave, then the participant's voice state follows",
    async () => {
      const room = await coworkingRoom(f.sql);
      const ada = await joinedUser(room);
      const joined = await deliver(event("participant_joined", room, { sid: "PA_1", identity: ada.id }));
      expect(joined.status).toBe(200);
      expect(await body(joined)).toEqual({ received: true, applied: true });
      expect(await voiceConnected(room, ada)).toBe(true);
      await deliver(leftEvent(room, ada, "PA_1", "CLIENT_INITIATED"));
      expect(await voiceConnected(room, ada)).toBe(false);
    },
  );

  // Signs webhooks with the LiveKit keys the test gives the functions (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)("when the same event is delivered twice, then it is applied once", async () => {
    const room = await coworkingRoom(f.sql);
    const ada = await joinedUser(room);
    const join = event("participant_joined", room, { sid: "PA_1", identity: ada.id });
    await deliver(join);
    await deliver(leftEvent(room, ada, "PA_1"));
    const again = await deliver(join);
    expect(again.status).toBe(200);
    expect(await body(again)).toEqual({ received: true, applied: false });
    expect(await voiceConnected(room, ada)).toBe(false);
  });

  // Signs webhooks with the LiveKit keys the test gives the functions (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when a second connection takes over the identity, then the old connection's leave keeps the user connected",
    async () => {
      const room = await coworkingRoom(f.sql);
      const ada = await joinedUser(room);
      await deliver(event("participant_joined", room, { sid: "PA_old", identity: ada.id }));
      await deliver(event("participant_joined", room, { sid: "PA_new", identity: ada.id }));
      await deliver(leftEvent(room, ada, "PA_old", "DUPLICATE_IDENTITY"));
      expect(await voiceConnected(room, ada)).toBe(true);
      // Even without the reason, a leave of a replaced connection is stale.
      await deliver(leftEvent(room, ada, "PA_old"));
      expect(await voiceConnected(room, ada)).toBe(true);
      await deliver(leftEvent(room, ada, "PA_new"));
      expect(await voiceConnected(room, ada)).toBe(false);
    },
  );

  // Signs webhooks with the LiveKit keys the test gives the functions (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when a leave arrives without a join, then it is accepted and nothing breaks",
    async () => {
      const room = await coworkingRoom(f.sql);
      const ada = await joinedUser(room);
      const res = await deliver(leftEvent(room, ada, "PA_x"));
      expect(res.status).toBe(200);
      expect(await voiceConnected(room, ada)).toBe(false);
    },
  );

  // Signs webhooks with the LiveKit keys the test gives the functions (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when the LiveKit room finishes, then nobody in it is connected any more",
    async () => {
      const room = await coworkingRoom(f.sql);
      const ada = await joinedUser(room, "Ada");
      const bob = await joinedUser(room, "Bob");
      await deliver(event("participant_joined", room, { sid: "PA_a", identity: ada.id }));
      await deliver(event("participant_joined", room, { sid: "PA_b", identity: bob.id }));
      await deliver(event("room_finished", room));
      expect(await voiceConnected(room, ada)).toBe(false);
      expect(await voiceConnected(room, bob)).toBe(false);
    },
  );

  // Signs webhooks with the LiveKit keys the test gives the functions (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when someone who is not a participant connects, then no voice state is invented",
    async () => {
      const room = await coworkingRoom(f.sql);
      const eve = await f.user("Eve");
      const res = await deliver(event("participant_joined", room, { sid: "PA_e", identity: eve.id }));
      expect(res.status).toBe(200);
      const [row] = await f.sql`select count(*)::int as n from roomkit.room_members where room_id = ${room}`;
      expect(row!.n).toBe(0);
    },
  );

  // Signs webhooks with the LiveKit keys the test gives the functions (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when the body was tampered with after signing, then 401 and nothing is written",
    async () => {
      const room = await coworkingRoom(f.sql);
      const ada = await joinedUser(room);
      const raw = JSON.stringify(event("participant_joined", room, { sid: "PA_1", identity: ada.id }));
      const auth = await sign(raw);
      const before = await rowCounts(f.sql);
      const res = await deliver(undefined, { raw: raw.replace("PA_1", "PA_2"), auth });
      expect(res.status).toBe(401);
      expect((await body<{ error: { code: string } }>(res)).error.code).toBe("not_authenticated");
      expect(await rowCounts(f.sql)).toEqual(before);
    },
  );

  test("when the webhook is signed with another secret or not signed, then 401", async () => {
    const room = await coworkingRoom(f.sql);
    const ada = await joinedUser(room);
    const raw = JSON.stringify(event("participant_joined", room, { sid: "PA_1", identity: ada.id }));
    expect(
      (await deliver(undefined, { raw, auth: await sign(raw, "another-secret-another-secret") })).status,
    ).toBe(401);
    expect((await deliver(undefined, { raw, auth: null })).status).toBe(401);
    expect((await deliver(undefined, { raw, auth: "not-a-jwt" })).status).toBe(401);
    expect(await voiceConnected(room, ada)).toBe(false);
  });

  // Signs webhooks with the LiveKit keys the test gives the functions (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when a correctly signed body is not a webhook event, then 400; unknown events are acknowledged",
    async () => {
      expect((await deliver(undefined, { raw: "{not json" })).status).toBe(400);
      const other = await deliver({
        event: "egress_started",
        id: "EV_other",
        room: { name: "someone-elses-room" },
      });
      expect(other.status).toBe(200);
      expect(await body(other)).toEqual({ received: true, applied: false });
    },
  );
});
