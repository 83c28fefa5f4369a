/**
 * Every way a coworking membership ends also ends voice: leave (through the function or a raw RPC
 * that ignores it), removal, expiry of a participant who went away, the room made inactive or
 * deleted; and a LiveKit token minted before cannot be used to come back. LiveKit is FAKED at its
 * network edge (Twirp over HTTP on a loopback port, see test/support/fakes.ts); its webhooks are signed
 * exactly as LiveKit signs them. Everything else is real: Deno functions, Postgres, the stack's
 * sweeper (the local stand-in for the production pg_cron schedule).
 */
import { createHash } from "node:crypto";
import { createClient } from "@supabase/supabase-js";
import { AccessToken } from "livekit-server-sdk";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { ROOMKIT_SCHEMA } from "../../functions/_shared/contract.ts";
import type { FakeLivekit } from "../support/fakes.ts";
import { coworkingRoom, setParticipantTimeout } from "../support/rooms.ts";
import { EXTERNAL_STACK } from "../support/stack.ts";
import { eventually } from "../support/wait.ts";
import { type LivekitFunctionsStack, startFunctionsStackWithFakeLivekit, type TestUser } from "./support.ts";

/** The sweeper's schedule here (production: every 10 s) and the participant timeout (production: 45 s). */
const SWEEP_MS = 300;
const TIMEOUT_SECONDS = 4;

let f: LivekitFunctionsStack;
let livekit: FakeLivekit;

beforeAll(async () => {
  f = await startFunctionsStackWithFakeLivekit({ sweepIntervalMs: SWEEP_MS });
  livekit = f.livekit;
  await setParticipantTimeout(f.stack, TIMEOUT_SECONDS);
});
afterAll(() => f?.stop());

/** LiveKit calls that disconnect `userId` from `roomId`'s voice (RemoveParticipant). */
function removals(roomId: string, userId: string) {
  return livekit.calls.filter(
    (c) =>
      c.method === "RemoveParticipant" && c.body.room === `roomkit-${roomId}` && c.body.identity === userId,
  );
}

async function join(roomId: string, user: TestUser): Promise<{ token: string }> {
  const res = await f.call(`coworking/rooms/${roomId}/join`, { method: "POST", token: user.token });
  expect(res.status).toBe(200);
  return ((await res.json()) as { voice: { token: string } }).voice;
}

async function active(roomId: string, userId: string): Promise<boolean> {
  const [row] = await f.sql`
    select left_at is null as active from roomkit.room_members where room_id = ${roomId} and user_id = ${userId}`;
  return row?.active === true;
}

/** A raw supabase-js client for `user`, on Roomkit's schema: a client that ignores the library. */
function rawClient(user: TestUser) {
  return createClient(f.stack.url, f.stack.anonKey, {
    db: { schema: ROOMKIT_SCHEMA },
    accessToken: async () => user.token,
    realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
  });
}

async function signedWebhook(event: Record<string, unknown>): Promise<Response> {
  const raw = JSON.stringify(event);
  const token = new AccessToken(livekit.apiKey, livekit.apiSecret);
  token.sha256 = createHash("sha256").update(raw).digest("base64");
  return f.call("livekit-webhook", {
    method: "POST",
    token: null,
    body: raw,
    headers: { apikey: "", "content-type": "application/webhook+json", authorization: await token.toJwt() },
  });
}

describe.skipIf(EXTERNAL_STACK)("voice ends with the membership", () => {
  test("when a participant leaves through the coworking function, then LiveKit removes them before the answer", async () => {
    const room = await coworkingRoom(f.sql);
    const ada = await f.user("Ada");
    await join(room, ada);
    const res = await f.call(`coworking/rooms/${room}/leave`, { method: "POST", token: ada.token });
    expect(res.status).toBe(204);
    expect(removals(room, ada.id)).toHaveLength(1);
    // revokeTokenTs makes LiveKit refuse every token of this identity issued before the call.
    expect(Number(removals(room, ada.id)[0]?.body.revokeTokenTs)).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  test("when a participant leaves with a raw RPC that skips the function, then the sweep removes them from LiveKit", async () => {
    const room = await coworkingRoom(f.sql);
    const bob = await f.user("Bob");
    await join(room, bob);
    const { error } = await rawClient(bob).rpc("leave_room", { room_id: room });
    expect(error).toBeNull();
    await eventually(() => removals(room, bob.id).length === 1, 5_000, "RemoveParticipant for Bob");
  });

  test("when a moderator removes a participant, then LiveKit removes them and they cannot rejoin", async () => {
    const room = await coworkingRoom(f.sql);
    const cy = await f.user("Cy");
    await join(room, cy);
    const res = await f.call(`coworking/rooms/${room}/participants/${cy.id}`, {
      method: "DELETE",
      token: f.stack.serviceRoleKey,
    });
    expect(await res.json()).toEqual({ removed: true, voice_disconnected: true });
    expect(removals(room, cy.id)).toHaveLength(1);
    const again = await f.call(`coworking/rooms/${room}/join`, { method: "POST", token: cy.token });
    expect(again.status).toBe(403);
  });

  test("when an operator makes a room inactive, then every participant leaves and LiveKit removes each", async () => {
    const room = await coworkingRoom(f.sql);
    const people = [await f.user("Di"), await f.user("Ed")];
    for (const p of people) await join(room, p);
    await f.sql`update roomkit.rooms set status = 'inactive' where id = ${room}`;
    for (const p of people) {
      expect(await active(room, p.id)).toBe(false);
      await eventually(() => removals(room, p.id).length === 1, 5_000, `RemoveParticipant for ${p.name}`);
    }
    const left = await f.sql`
      select count(*)::int as n from roomkit.room_messages where room_id = ${room} and kind = 'system' and metadata ->> 'event' = 'left'`;
    expect(left[0]?.n).toBe(2);
  });

  test("when a coworking room is deleted, then its LiveKit room is deleted", async () => {
    const room = await coworkingRoom(f.sql);
    await join(room, await f.user("Flo"));
    await f.sql`delete from roomkit.rooms where id = ${room}`;
    await eventually(
      () => livekit.calls.some((c) => c.method === "DeleteRoom" && c.body.room === `roomkit-${room}`),
      5_000,
      "DeleteRoom",
    );
  });

  test("when someone connects to LiveKit with a token minted before they left, then the webhook turns them away", async () => {
    const room = await coworkingRoom(f.sql);
    const gus = await f.user("Gus");
    await join(room, gus);
    await f.call(`coworking/rooms/${room}/leave`, { method: "POST", token: gus.token });
    const before = removals(room, gus.id).length;
    const res = await signedWebhook({
      event: "participant_joined",
      id: `EV_${crypto.randomUUID()}`,
      createdAt: String(Math.floor(Date.now() / 1000)),
      room: { sid: "RM_test", name: `roomkit-${room}` },
      participant: { sid: "PA_stale", identity: gus.id, state: "ACTIVE" },
    });
    expect(res.status).toBe(200);
    expect(removals(room, gus.id)).toHaveLength(before + 1);
    const [row] = await f.sql`
      select voice_connected from roomkit.room_members where room_id = ${room} and user_id = ${gus.id}`;
    expect(row?.voice_connected).toBe(false);
  });
});

describe.skipIf(EXTERNAL_STACK)("participants who went away", () => {
  test("when a participant stops sending heartbeats (a closed tab), then the sweep lets them go with a 'left' message and ends their voice; one who beats stays", async () => {
    const room = await coworkingRoom(f.sql);
    const [stays, gone] = [await f.user("Stays"), await f.user("Gone")];
    await join(room, stays);
    await join(room, gone);
    const client = rawClient(stays);
    const first = await client.rpc("heartbeat", { room_id: room });
    expect(first.error).toBeNull();
    // A query builder runs only when awaited or then()-ed.
    const beating = setInterval(() => void client.rpc("heartbeat", { room_id: room }).then(), 500);
    try {
      await eventually(
        async () => !(await active(room, gone.id)),
        (TIMEOUT_SECONDS + 5) * 1000,
        "Gone expired",
      );
      expect(await active(room, stays.id)).toBe(true);
    } finally {
      clearInterval(beating);
    }
    const [message] = await f.sql`
      select body from roomkit.room_messages
      where room_id = ${room} and kind = 'system' and metadata ->> 'event' = 'left' and metadata ->> 'user_id' = ${gone.id}`;
    expect(message?.body).toBe("Gone left");
    await eventually(() => removals(room, gone.id).length === 1, 5_000, "RemoveParticipant for Gone");
  });

  test("when a participant is connected to voice, then silence on the session alone does not expire them", async () => {
    const room = await coworkingRoom(f.sql);
    const talker = await f.user("Talker");
    await join(room, talker);
    await signedWebhook({
      event: "participant_joined",
      id: `EV_${crypto.randomUUID()}`,
      createdAt: String(Math.floor(Date.now() / 1000)),
      room: { sid: "RM_test", name: `roomkit-${room}` },
      participant: { sid: "PA_talker", identity: talker.id, state: "ACTIVE" },
    });
    // The sentinel: a participant without voice who joined at the same time expires first.
    const silent = await f.user("Silent");
    await join(room, silent);
    await eventually(
      async () => !(await active(room, silent.id)),
      (TIMEOUT_SECONDS + 5) * 1000,
      "Silent expired",
    );
    expect(await active(room, talker.id)).toBe(true);
  });
});
