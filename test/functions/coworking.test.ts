import { TokenVerifier } from "livekit-server-sdk";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { coworkingRoom, privateRoom } from "../support/rooms.ts";
import { EXTERNAL_STACK } from "../support/stack.ts";
import {
  body,
  type LivekitFunctionsStack,
  rowCounts,
  startFunctionsStackWithFakeLivekit,
} from "./support.ts";

// LiveKit is faked at its network edge (Twirp over HTTP on a loopback port); everything else is real.
let f: LivekitFunctionsStack;
beforeAll(async () => {
  f = await startFunctionsStackWithFakeLivekit();
});
afterAll(() => f?.stop());

// biome-ignore lint/suspicious/noExplicitAny: assertions walk JSON bodies of known shape
type Json = Record<string, any>;

async function verifyVoiceToken(token: string) {
  return new TokenVerifier(f.livekit.apiKey, f.livekit.apiSecret).verify(token);
}

describe("GET /coworking/rooms", () => {
  test("when anyone lists the lobby, then active rooms come with capacity and live participant counts", async () => {
    const room = await coworkingRoom(f.sql, { capacity: 3 });
    const closed = await coworkingRoom(f.sql, { capacity: 3, status: "inactive" });
    const ada = await f.user("Ada");
    expect((await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token })).status).toBe(
      200,
    );
    const res = await f.call("coworking/rooms");
    expect(res.status).toBe(200);
    const { rooms } = await body<{ rooms: Json[] }>(res);
    expect(rooms.find((r) => r.id === room)).toMatchObject({
      capacity: 3,
      participant_count: 1,
      status: "active",
    });
    expect(rooms.some((r) => r.id === closed)).toBe(false);
    expect(rooms.map((r) => r.name)).toEqual(expect.arrayContaining(["Focus Zone", "Sprint Room"]));
  });
});

describe("POST /coworking/rooms/{id}/join", () => {
  // Checks LiveKit tokens or calls against the fake LiveKit the functions are pointed at (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when a user joins, then they get a membership and an audio-only LiveKit token for that room only",
    async () => {
      const room = await coworkingRoom(f.sql);
      const ada = await f.user("Ada Lovelace");
      const res = await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token });
      expect(res.status).toBe(200);
      const { participant, voice } = await body<Json>(res);
      expect(participant).toMatchObject({
        room_id: room,
        user_id: ada.id,
        left_at: null,
        mic_enabled: false,
      });
      expect(voice.url).toBe(f.livekit.url);
      const claims = await verifyVoiceToken(voice.token);
      expect(claims.sub).toBe(ada.id);
      expect(claims.name).toBe("Ada Lovelace");
      expect(claims.video).toMatchObject({
        roomJoin: true,
        room: `roomkit-${room}`,
        canSubscribe: true,
        canPublishData: true,
        // Serialized as LiveKit reads it: source names, only the microphone (no camera, no screen share).
        canPublishSources: ["microphone"],
      });
      expect(claims.video?.roomAdmin).toBeFalsy();
      const ttl = (claims.exp as number) - (claims.nbf as number);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(15 * 60);
      expect(Math.abs(Date.parse(voice.expires_at) / 1000 - (claims.exp as number))).toBeLessThan(5);
    },
  );

  test("when a user joins twice, then the second join returns the same membership and one system message", async () => {
    const room = await coworkingRoom(f.sql);
    const ada = await f.user("Ada");
    const first = await body<Json>(
      await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token }),
    );
    const again = await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token });
    expect(again.status).toBe(200);
    expect((await body<Json>(again)).participant.joined_at).toBe(first.participant.joined_at);
    const [count] = await f.sql`select count(*)::int as n from roomkit.room_messages where room_id = ${room}`;
    expect(count!.n).toBe(1);
  });

  test("when 100 users race for a room of 8, then exactly 8 get voice tokens and 92 get 409 room_full", async () => {
    const room = await coworkingRoom(f.sql, { capacity: 8 });
    const users = await Promise.all(Array.from({ length: 100 }, (_, i) => f.user(`Racer ${i}`)));
    const results = await Promise.all(
      users.map(async (u) => {
        const res = await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: u.token });
        return { status: res.status, body: await body<Json>(res) };
      }),
    );
    const ok = results.filter((r) => r.status === 200);
    const full = results.filter((r) => r.status === 409);
    expect(ok).toHaveLength(8);
    expect(full).toHaveLength(92);
    for (const r of ok) expect(typeof r.body.voice.token).toBe("string");
    for (const r of full) expect(r.body.error.code).toBe("room_full");
    const [count] = await f.sql`
      select count(*)::int as n from roomkit.room_members where room_id = ${room} and left_at is null`;
    expect(count!.n).toBe(8);
  });

  test("when the room does not exist, is private, or is closed, then 404 room_not_found or 409 room_inactive", async () => {
    const ada = await f.user("Ada");
    const missing = await f.call(`coworking/rooms/${crypto.randomUUID()}/join`, {
      method: "POST",
      token: ada.token,
    });
    expect(missing.status).toBe(404);
    expect((await body<Json>(missing)).error.code).toBe("room_not_found");
    const priv = await privateRoom(f.sql, ada);
    expect((await f.call(`coworking/rooms/${priv}/join`, { method: "POST", token: ada.token })).status).toBe(
      404,
    );
    const closed = await coworkingRoom(f.sql, { capacity: 5, status: "inactive" });
    const res = await f.call(`coworking/rooms/${closed}/join`, { method: "POST", token: ada.token });
    expect(res.status).toBe(409);
    expect((await body<Json>(res)).error).toMatchObject({
      code: "room_inactive",
      request_id: expect.any(String),
    });
  });

  test("when the caller is anonymous, then 401 not_authenticated and nothing is written", async () => {
    const room = await coworkingRoom(f.sql);
    const before = await rowCounts(f.sql, { rooms: [room] });
    const res = await f.call(`coworking/rooms/${room}/join`, { method: "POST" });
    expect(res.status).toBe(401);
    expect((await body<Json>(res)).error.code).toBe("not_authenticated");
    expect(await rowCounts(f.sql, { rooms: [room] })).toEqual(before);
  });

  test("when the room id is not a uuid, then 400 invalid_input naming the path field", async () => {
    const ada = await f.user("Ada");
    const res = await f.call("coworking/rooms/not-a-uuid/join", { method: "POST", token: ada.token });
    expect(res.status).toBe(400);
    const { error } = await body<Json>(res);
    expect(error.code).toBe("invalid_input");
    expect(error.details[0].path).toBe("id");
  });
});

describe("leave and mic", () => {
  test("when a participant turns the mic on, leaves, then the seat frees up and the mic is off", async () => {
    const room = await coworkingRoom(f.sql, { capacity: 1 });
    const ada = await f.user("Ada");
    const bob = await f.user("Bob");
    await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token });
    const on = await f.call(`coworking/rooms/${room}/mic`, {
      method: "PUT",
      token: ada.token,
      body: { enabled: true },
    });
    expect(on.status).toBe(200);
    expect((await body<Json>(on)).participant.mic_enabled).toBe(true);
    expect((await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: bob.token })).status).toBe(
      409,
    );
    const left = await f.call(`coworking/rooms/${room}/leave`, { method: "POST", token: ada.token });
    expect(left.status).toBe(204);
    const [row] =
      await f.sql`select left_at, mic_enabled from roomkit.room_members where room_id = ${room} and user_id = ${ada.id}`;
    expect(row!.left_at).not.toBeNull();
    expect(row!.mic_enabled).toBe(false);
    expect((await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: bob.token })).status).toBe(
      200,
    );
  });

  test("when a non-participant sets the mic or leaves, then 403 not_member", async () => {
    const room = await coworkingRoom(f.sql);
    const ada = await f.user("Ada");
    const mic = await f.call(`coworking/rooms/${room}/mic`, {
      method: "PUT",
      token: ada.token,
      body: { enabled: true },
    });
    expect(mic.status).toBe(403);
    expect((await body<Json>(mic)).error.code).toBe("not_member");
    const leave = await f.call(`coworking/rooms/${room}/leave`, { method: "POST", token: ada.token });
    expect(leave.status).toBe(403);
  });

  test("when the mic body is not a boolean, then 400 invalid_input", async () => {
    const room = await coworkingRoom(f.sql);
    const ada = await f.user("Ada");
    await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token });
    const res = await f.call(`coworking/rooms/${room}/mic`, {
      method: "PUT",
      token: ada.token,
      body: { enabled: "yes" },
    });
    expect(res.status).toBe(400);
    expect((await body<Json>(res)).error.details[0].path).toBe("enabled");
  });

  test("when a route is called with the wrong method, then 405 with Allow", async () => {
    const room = await coworkingRoom(f.sql);
    const ada = await f.user("Ada");
    const res = await f.call(`coworking/rooms/${room}/join`, { method: "GET", token: ada.token });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toContain("POST");
    expect((await body<Json>(res)).error.code).toBe("method_not_allowed");
  });
});

describe("POST /livekit-token", () => {
  // Checks LiveKit tokens or calls against the fake LiveKit the functions are pointed at (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when a participant asks, then they get a fresh token; others get 403, unknown rooms 404",
    async () => {
      const room = await coworkingRoom(f.sql);
      const ada = await f.user("Ada");
      const eve = await f.user("Eve");
      await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token });
      const res = await f.call("livekit-token", {
        method: "POST",
        token: ada.token,
        body: { room_id: room },
      });
      expect(res.status).toBe(200);
      const voice = await body<Json>(res);
      const claims = await verifyVoiceToken(voice.token);
      expect(claims.sub).toBe(ada.id);
      expect(claims.video?.room).toBe(`roomkit-${room}`);
      const outsider = await f.call("livekit-token", {
        method: "POST",
        token: eve.token,
        body: { room_id: room },
      });
      expect(outsider.status).toBe(403);
      expect((await body<Json>(outsider)).error.code).toBe("not_member");
      const missing = await f.call("livekit-token", {
        method: "POST",
        token: ada.token,
        body: { room_id: crypto.randomUUID() },
      });
      expect(missing.status).toBe(404);
      const priv = await privateRoom(f.sql, ada);
      const privRes = await f.call("livekit-token", {
        method: "POST",
        token: ada.token,
        body: { room_id: priv },
      });
      expect(privRes.status).toBe(403);
      expect((await body<Json>(privRes)).error.code).toBe("forbidden");
    },
  );

  test("when a former participant asks, then 403; when the body is missing, then 400; without a JWT, 401", async () => {
    const room = await coworkingRoom(f.sql);
    const ada = await f.user("Ada");
    await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token });
    await f.call(`coworking/rooms/${room}/leave`, { method: "POST", token: ada.token });
    expect(
      (await f.call("livekit-token", { method: "POST", token: ada.token, body: { room_id: room } })).status,
    ).toBe(403);
    expect((await f.call("livekit-token", { method: "POST", token: ada.token })).status).toBe(400);
    const noJwt = await f.call("livekit-token", {
      method: "POST",
      token: null,
      headers: { apikey: "" },
      body: { room_id: room },
    });
    expect(noJwt.status).toBe(401);
  });

  test("when the room was closed after joining, then the participant is out: 403 not_member", async () => {
    const room = await coworkingRoom(f.sql);
    const ada = await f.user("Ada");
    await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token });
    await f.sql`update roomkit.rooms set status = 'inactive' where id = ${room}`;
    const res = await f.call("livekit-token", { method: "POST", token: ada.token, body: { room_id: room } });
    expect(res.status).toBe(403);
    expect((await body<Json>(res)).error.code).toBe("not_member");
  });
});

describe("DELETE /coworking/rooms/{id}/participants/{user_id} (moderation)", () => {
  // Checks LiveKit tokens or calls against the fake LiveKit the functions are pointed at (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when the service role removes a participant, then they leave the room and LiveKit disconnects them with token revocation",
    async () => {
      const room = await coworkingRoom(f.sql);
      const ada = await f.user("Ada");
      await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token });
      f.livekit.calls.length = 0;
      const before = Math.floor(Date.now() / 1000);
      const res = await f.call(`coworking/rooms/${room}/participants/${ada.id}`, {
        method: "DELETE",
        token: f.stack.serviceRoleKey,
      });
      expect(res.status).toBe(200);
      expect(await body<Json>(res)).toEqual({ removed: true, voice_disconnected: true });
      const call = f.livekit.calls.find((c) => c.method === "RemoveParticipant");
      expect(call?.body).toMatchObject({ room: `roomkit-${room}`, identity: ada.id });
      expect(Number(call?.body.revokeTokenTs)).toBeGreaterThanOrEqual(before);
      // The fake checks nothing, so check that the SDK signed the call as LiveKit requires (roomAdmin for that room).
      const admin = await verifyVoiceToken(call!.authorization!.replace(/^Bearer /, ""));
      expect(admin.video).toMatchObject({ roomAdmin: true, room: `roomkit-${room}` });
      const token = await f.call("livekit-token", {
        method: "POST",
        token: ada.token,
        body: { room_id: room },
      });
      expect(token.status).toBe(403);
    },
  );

  test("when a user with the roomkit_admin claim removes someone, then it works; a plain user gets 403", async () => {
    const room = await coworkingRoom(f.sql);
    const ada = await f.user("Ada");
    const mod = await f.user("Mod", { roomkit_admin: true });
    const bob = await f.user("Bob");
    await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token });
    await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: bob.token });
    const denied = await f.call(`coworking/rooms/${room}/participants/${ada.id}`, {
      method: "DELETE",
      token: bob.token,
    });
    expect(denied.status).toBe(403);
    expect((await body<Json>(denied)).error.code).toBe("forbidden");
    const ok = await f.call(`coworking/rooms/${room}/participants/${ada.id}`, {
      method: "DELETE",
      token: mod.token,
    });
    expect(ok.status).toBe(200);
  });

  // Checks LiveKit tokens or calls against the fake LiveKit the functions are pointed at (functionsEnv): local stack only.
  test.skipIf(EXTERNAL_STACK)(
    "when the target is not in the room, then 404 member_not_found; when LiveKit is down, then removal still holds",
    async () => {
      const room = await coworkingRoom(f.sql);
      const ada = await f.user("Ada");
      const missing = await f.call(`coworking/rooms/${room}/participants/${ada.id}`, {
        method: "DELETE",
        token: f.stack.serviceRoleKey,
      });
      expect(missing.status).toBe(404);
      expect((await body<Json>(missing)).error.code).toBe("member_not_found");
      await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: ada.token });
      f.livekit.failWith = { status: 503, code: "unavailable" };
      try {
        const res = await f.call(`coworking/rooms/${room}/participants/${ada.id}`, {
          method: "DELETE",
          token: f.stack.serviceRoleKey,
        });
        expect(res.status).toBe(200);
        expect(await body<Json>(res)).toEqual({ removed: true, voice_disconnected: false });
      } finally {
        f.livekit.failWith = undefined;
      }
      const [row] =
        await f.sql`select left_at from roomkit.room_members where room_id = ${room} and user_id = ${ada.id}`;
      expect(row!.left_at).not.toBeNull();
    },
  );
});
