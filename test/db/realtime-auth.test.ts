/**
 * Private-channel authorization, checked the way Supabase Realtime checks it
 * (supabase/realtime lib/realtime/tenants/authorization.ex; reference/realtime.md §4.3):
 *  - read: in one transaction, probe rows (one per extension) are inserted as the server's own DB
 *    user; then role, realtime.topic and the JWT claim GUCs are set; the probes visible under RLS
 *    give broadcast.read / presence.read; then rollback.
 *  - write: with the same GUCs, an INSERT per extension inside a savepoint; success ⇒ write=true,
 *    insufficient_privilege (42501) ⇒ write=false; any other error is a broken policy. Rolled back.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roomLiveTopic, roomTopic } from "../../functions/_shared/contract.ts";
import { type Actor, ANON, impersonate, rpcOk, SERVICE, toDbError } from "../support/acting.ts";
import { createTestDatabase, type Sql, type TestDatabase } from "../support/db.ts";
import {
  type CoworkingCast,
  coworkingRoomCast,
  type PrivateCast,
  privateRoomCast,
} from "../support/rooms.ts";
import { insertUser, type User } from "../support/users.ts";

/** The channel extensions Realtime authorizes separately (realtime.messages.extension). */
const EXTENSIONS = ["broadcast", "presence"] as const;

interface Access {
  broadcastRead: boolean;
  presenceRead: boolean;
  broadcastWrite: boolean;
  presenceWrite: boolean;
}

class Rollback extends Error {}

/** GUCs Realtime sets before checking: role, topic, claims (+ per-claim GUCs), headers. */
async function realtimeSettings(tx: Parameters<typeof impersonate>[0], actor: Actor, topic: string) {
  await impersonate(tx, actor, { "realtime.topic": topic, "request.headers": JSON.stringify({}) });
}

/** The read check (join time). */
async function canRead(
  sql: Sql,
  actor: Actor,
  topic: string,
): Promise<{ broadcast: boolean; presence: boolean }> {
  const probes = { broadcast: randomUUID(), presence: randomUUID() };
  let seen: string[] = [];
  try {
    await sql.begin(async (tx) => {
      for (const ext of EXTENSIONS) {
        await tx`insert into realtime.messages (id, topic, extension, private) values (${probes[ext]}, ${topic}, ${ext}, true)`;
      }
      await realtimeSettings(tx, actor, topic);
      const rows = await tx<{ id: string }[]>`
        select id from realtime.messages where id in (${probes.broadcast}, ${probes.presence})`;
      seen = rows.map((r) => r.id);
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
  return { broadcast: seen.includes(probes.broadcast), presence: seen.includes(probes.presence) };
}

/** The write check (first broadcast / first track). */
async function canWrite(
  sql: Sql,
  actor: Actor,
  topic: string,
): Promise<{ broadcast: boolean; presence: boolean }> {
  const result = { broadcast: false, presence: false };
  try {
    await sql.begin(async (tx) => {
      await realtimeSettings(tx, actor, topic);
      for (const ext of EXTENSIONS) {
        try {
          await tx.savepoint(async (sp) => {
            await sp`insert into realtime.messages (topic, extension, private) values (${topic}, ${ext}, true)`;
            result[ext] = true;
            throw new Rollback();
          });
        } catch (error) {
          if (error instanceof Rollback) continue;
          if (toDbError(error).code !== "42501") throw error;
        }
      }
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
  return result;
}

async function access(sql: Sql, actor: Actor, topic: string): Promise<Access> {
  const [r, w] = await Promise.all([canRead(sql, actor, topic), canWrite(sql, actor, topic)]);
  return {
    broadcastRead: r.broadcast,
    presenceRead: r.presence,
    broadcastWrite: w.broadcast,
    presenceWrite: w.presence,
  };
}

const ALL: Access = { broadcastRead: true, presenceRead: true, broadcastWrite: true, presenceWrite: true };
const NONE: Access = {
  broadcastRead: false,
  presenceRead: false,
  broadcastWrite: false,
  presenceWrite: false,
};
/** Receive broadcasts, send nothing: `user:<id>`, `room:<id>` (database events), `coworking:lobby`. */
const RECEIVE_ONLY: Access = { ...NONE, broadcastRead: true };

type ActorName = "anon" | "outsider" | "invitee" | "member" | "admin" | "owner" | "former" | "service";

let db: TestDatabase;
let p: PrivateCast;
let c: CoworkingCast;
/** The rooms' current epochs (the private cast's former member left, so its room is past 1). */
let pEpoch: number;
let cEpoch: number;

async function epochOf(roomId: string): Promise<number> {
  const [row] = await db.sql<{ epoch: number }[]>`select epoch from roomkit.rooms where id = ${roomId}`;
  return row?.epoch ?? 0;
}

function privateActor(name: ActorName): Actor {
  if (name === "anon") return ANON;
  if (name === "service") return SERVICE;
  return p[name];
}

beforeAll(async () => {
  db = await createTestDatabase();
  [p, c] = await Promise.all([privateRoomCast(db.sql), coworkingRoomCast(db.sql)]);
  [pEpoch, cEpoch] = await Promise.all([epochOf(p.roomId), epochOf(c.roomId)]);
});
afterAll(() => db?.drop());

describe("room:<id> topics (database events: receive only)", () => {
  // Service role: BYPASSRLS, as on Supabase (the service_role key can use any private channel;
  // the AI function sends `ai.*` here with it).
  it.each<[ActorName, Access]>([
    ["anon", NONE],
    ["outsider", NONE],
    ["invitee", NONE],
    ["member", RECEIVE_ONLY],
    ["admin", RECEIVE_ONLY],
    ["owner", RECEIVE_ONLY],
    ["former", NONE],
    ["service", ALL],
  ])("when %s joins a private room's channel, then access is %o", async (name, expected) => {
    expect(await access(db.sql, privateActor(name), `${roomTopic(p.roomId, pEpoch)}`)).toEqual(expected);
  });

  it.each<[string, Access]>([
    ["anon", NONE],
    ["outsider", NONE],
    ["member", RECEIVE_ONLY],
    ["former", NONE],
    ["service", ALL],
  ])("when %s joins a coworking room's channel, then access is %o", async (name, expected) => {
    const actor =
      name === "anon" ? ANON : name === "service" ? SERVICE : c[name as "outsider" | "member" | "former"];
    expect(await access(db.sql, actor, `${roomTopic(c.roomId, cEpoch)}`)).toEqual(expected);
  });

  it("when a member of one room asks for another room's channel, then access is denied", async () => {
    expect(await access(db.sql, c.member, `${roomTopic(p.roomId, pEpoch)}`)).toEqual(NONE);
  });

  it("when the room id is written in upper case, then it is the same room", async () => {
    expect(await access(db.sql, p.member, `${roomTopic(p.roomId.toUpperCase(), pEpoch)}`)).toEqual(
      RECEIVE_ONLY,
    );
  });
});

describe("room:<id>:live topics (members' signals and presence)", () => {
  it.each<[ActorName, Access]>([
    ["anon", NONE],
    ["outsider", NONE],
    ["invitee", NONE],
    ["member", ALL],
    ["admin", ALL],
    ["owner", ALL],
    ["former", NONE],
    ["service", ALL],
  ])("when %s joins a private room's live channel, then access is %o", async (name, expected) => {
    expect(await access(db.sql, privateActor(name), `${roomLiveTopic(p.roomId, pEpoch)}`)).toEqual(expected);
  });

  it.each<[string, Access]>([
    ["anon", NONE],
    ["outsider", NONE],
    ["member", ALL],
    ["former", NONE],
    ["service", ALL],
  ])("when %s joins a coworking room's live channel, then access is %o", async (name, expected) => {
    const actor =
      name === "anon" ? ANON : name === "service" ? SERVICE : c[name as "outsider" | "member" | "former"];
    expect(await access(db.sql, actor, `${roomLiveTopic(c.roomId, cEpoch)}`)).toEqual(expected);
  });

  it("when a member of one room asks for another room's live channel, then access is denied", async () => {
    expect(await access(db.sql, c.member, `${roomLiveTopic(p.roomId, pEpoch)}`)).toEqual(NONE);
  });

  it("when the room id is written in upper case, then it is the same room", async () => {
    expect(await access(db.sql, p.member, `${roomLiveTopic(p.roomId.toUpperCase(), pEpoch)}`)).toEqual(ALL);
  });
});

describe("membership changes", () => {
  it("when a member leaves, then they are denied on the old and the new epoch's topics, and the others move to the new epoch", async () => {
    const cast = await privateRoomCast(db.sql, "Leaving room");
    const u = await insertUser(db.sql, { name: "Leaver" });
    const invite = await rpcOk<{ id: string }>(db.sql, cast.owner, "send_invite", {
      room_id: cast.roomId,
      invitee_id: u.id,
    });
    await rpcOk(db.sql, u, "accept_invite", { invite_id: invite.id });
    const before = await epochOf(cast.roomId);
    expect(await access(db.sql, u, roomTopic(cast.roomId, before))).toEqual(RECEIVE_ONLY);
    expect(await access(db.sql, u, roomLiveTopic(cast.roomId, before))).toEqual(ALL);
    await rpcOk(db.sql, u, "leave_room", { room_id: cast.roomId });
    const after = await epochOf(cast.roomId);
    expect(after).toBe(before + 1);
    for (const topic of [roomTopic(cast.roomId, before), roomLiveTopic(cast.roomId, before)]) {
      expect(await access(db.sql, u, topic)).toEqual(NONE);
      // Nobody joins the old epoch any more: what is said from now on goes to the new one only.
      expect(await access(db.sql, cast.member, topic)).toEqual(NONE);
    }
    expect(await access(db.sql, u, roomTopic(cast.roomId, after))).toEqual(NONE);
    expect(await access(db.sql, u, roomLiveTopic(cast.roomId, after))).toEqual(NONE);
    expect(await access(db.sql, cast.member, roomTopic(cast.roomId, after))).toEqual(RECEIVE_ONLY);
    expect(await access(db.sql, cast.member, roomLiveTopic(cast.roomId, after))).toEqual(ALL);
  });

  it("when a member is removed, then the epoch advances and database events go to the new topic only", async () => {
    const cast = await privateRoomCast(db.sql, "Removal room");
    const before = await epochOf(cast.roomId);
    await rpcOk(db.sql, cast.owner, "remove_member", { room_id: cast.roomId, user_id: cast.peer.id });
    const after = await epochOf(cast.roomId);
    expect(after).toBe(before + 1);
    const message = await rpcOk<{ id: string }>(db.sql, cast.member, "send_message", {
      room_id: cast.roomId,
      body: "after the removal",
    });
    const topics = await db.sql<{ topic: string }[]>`
      select topic from realtime.messages where payload -> 'record' ->> 'id' = ${message.id}`;
    expect(topics.map((t) => t.topic)).toEqual([roomTopic(cast.roomId, after)]);
  });
});

describe("coworking:lobby topic", () => {
  // Lobby counts come from a trigger only; anyone (signed out too) watches them.
  it.each<[ActorName | "coworker", Access]>([
    ["anon", RECEIVE_ONLY],
    ["outsider", RECEIVE_ONLY],
    ["member", RECEIVE_ONLY],
    ["owner", RECEIVE_ONLY],
    ["coworker", RECEIVE_ONLY],
    ["service", ALL],
  ])("when %s joins the lobby, then access is %o", async (name, expected) => {
    const actor = name === "coworker" ? c.member : privateActor(name);
    expect(await access(db.sql, actor, "coworking:lobby")).toEqual(expected);
  });
});

describe("user:<id> topics", () => {
  it.each<[ActorName]>([["outsider"], ["invitee"], ["member"], ["owner"], ["former"]])(
    "when %s joins their own user channel, then they may receive broadcasts only",
    async (name) => {
      const u = p[name as Exclude<ActorName, "anon" | "service">] as User;
      expect(await access(db.sql, u, `user:${u.id}`)).toEqual(RECEIVE_ONLY);
    },
  );

  it.each<[ActorName]>([["outsider"], ["invitee"], ["member"], ["owner"], ["anon"]])(
    "when %s joins someone else's user channel, then access is denied",
    async (name) => {
      expect(await access(db.sql, privateActor(name), `user:${p.peer.id}`)).toEqual(NONE);
    },
  );
});

describe("junk topics", () => {
  const junk = () => [
    "room:not-a-uuid",
    "room:",
    "room",
    "",
    `room:${p.roomId}x`,
    `room:${p.roomId} `,
    ` ${roomTopic(p.roomId, pEpoch)}`,
    `room:${p.roomId}`,
    `room:${p.roomId}:0`,
    `room:${p.roomId}:0${pEpoch}`,
    `room:${p.roomId}:${pEpoch + 1}`,
    `room:${p.roomId}:${pEpoch}.0`,
    `room:${p.roomId}:-${pEpoch}`,
    `room:${p.roomId}:99999999999`,
    `room:${p.roomId}:${pEpoch}:live:x`,
    `room:${p.roomId}:live`,
    `room:${p.roomId}' or '1'='1`,
    `room:{${p.roomId}}`,
    `room:${p.roomId.replaceAll("-", "")}`,
    "user:not-a-uuid",
    `user:${p.member.id}x`,
    "coworking:lobby:x",
    "Coworking:lobby",
    "realtime:coworking:lobby",
    "realtime:room:x",
    `room:${p.roomId}:live:x`,
    `room:${p.roomId}:live `,
    `room:${p.roomId}:Live`,
    `room:${p.roomId}:livex`,
    `room:${p.roomId}live`,
    `room:${p.roomId}::live`,
    "room:not-a-uuid:live",
    "room::live",
    ":live",
    `room:${p.roomId}:live' or '1'='1`,
    "x".repeat(2000),
  ];

  it("when a member asks for malformed topics, then every one is denied without an error", async () => {
    for (const topic of junk()) {
      expect({ topic, access: await access(db.sql, p.member, topic) }).toEqual({ topic, access: NONE });
    }
  });

  it("when anon asks for malformed topics, then every one is denied without an error", async () => {
    for (const topic of junk()) {
      expect({ topic, access: await access(db.sql, ANON, topic) }).toEqual({ topic, access: NONE });
    }
  });
});
