/**
 * What the re-cut closes in the database itself, each checked against a caller that ignores the
 * client library: interleavings that used to leave a room without an owner or deadlock (each call
 * on its own connection, released together), per-user limits, sign-out, and sign-up metadata that
 * must never make a sign-up fail.
 */
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Actor, as, claimsOf, impersonate, rpc, rpcOk, toDbError } from "../support/acting.ts";
import { createTestDatabase, type Sql, type TestDatabase } from "../support/db.ts";
import { privateRoom } from "../support/rooms.ts";
import { insertUser, type User } from "../support/users.ts";

let db: TestDatabase;
let pool: Sql;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = postgres(db.url, { max: 8, onnotice: () => {}, idle_timeout: 0 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

type Outcome = { ok: true } | { ok: false; code: string; hint: string | undefined };

/** Runs each call as its actor in its own transaction, all released at once after every one has begun. */
async function together(
  calls: [Actor, (tx: postgres.TransactionSql) => Promise<unknown>][],
): Promise<Outcome[]> {
  let release!: () => void;
  const barrier = new Promise<void>((r) => {
    release = r;
  });
  let open = 0;
  return Promise.all(
    calls.map(async ([actor, run]): Promise<Outcome> => {
      try {
        await pool.begin(async (tx) => {
          await impersonate(tx, actor);
          open += 1;
          if (open === calls.length) release();
          await barrier;
          await run(tx);
        });
        return { ok: true };
      } catch (error) {
        const e = toDbError(error);
        return { ok: false, code: e.code, hint: e.hint };
      }
    }),
  );
}

const roomWith = (owner: User, members: User[]) => privateRoom(db.sql, owner, { name: "Race", members });

describe("interleavings", () => {
  it("when the owner leaves while demoting the heir, 200 times, then every room keeps exactly one owner", async () => {
    const owners: number[] = [];
    const failures: string[] = [];
    for (let i = 0; i < 200; i++) {
      const [owner, heir, other] = await Promise.all([
        insertUser(db.sql),
        insertUser(db.sql),
        insertUser(db.sql),
      ]);
      const roomId = await roomWith(owner, [heir, other]);
      await rpcOk(db.sql, owner, "set_member_role", { room_id: roomId, user_id: heir.id, role: "admin" });
      const results = await together([
        [owner, (tx) => tx`select roomkit.leave_room(${roomId})`],
        [owner, (tx) => tx`select roomkit.set_member_role(${roomId}, ${heir.id}, 'member')`],
      ]);
      // The demotion may lose to the leave (the caller is no longer owner, or no longer in the room).
      for (const r of results)
        if (!r.ok && r.hint !== "forbidden" && r.hint !== "not_member") failures.push(`${r.code} ${r.hint}`);
      const [row] = await db.sql<{ owners: number }[]>`
        select count(*)::int as owners from roomkit.room_members where room_id = ${roomId} and role = 'owner' and left_at is null`;
      owners.push(row?.owners ?? -1);
    }
    expect(failures).toEqual([]);
    expect(owners.filter((n) => n !== 1)).toEqual([]);
  }, 120_000);

  it("when an invite is accepted while the room's last member leaves, 60 times, then no call deadlocks or fails unexpectedly", async () => {
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const [owner, guest] = await Promise.all([insertUser(db.sql), insertUser(db.sql)]);
      const room = await rpcOk<{ id: string }>(db.sql, owner, "create_private_room", { name: "Last one" });
      const invite = await rpcOk<{ id: string }>(db.sql, owner, "send_invite", {
        room_id: room.id,
        invitee_id: guest.id,
      });
      const results = await together([
        [owner, (tx) => tx`select roomkit.leave_room(${room.id})`],
        [guest, (tx) => tx`select roomkit.accept_invite(${invite.id})`],
      ]);
      for (const r of results) {
        const key = r.ok ? "ok" : `${r.code} ${r.hint}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
    }
    // The leave always succeeds; the accept either wins (the guest becomes the owner) or finds the
    // room gone with its invite (404 invite_not_found). Never 40P01 (deadlock) or anything else.
    expect([...outcomes.keys()].filter((k) => k !== "ok" && k !== "PT404 invite_not_found")).toEqual([]);
    expect(outcomes.get("ok")).toBeGreaterThanOrEqual(60);
  }, 120_000);
});

describe("per-user limits", () => {
  it("when a user creates more rooms in an hour than the limit, then 429 rate_limited and no room is written", async () => {
    const ada = await insertUser(db.sql);
    await db.sql`update roomkit_private.limits set rooms_per_hour = 3`;
    try {
      for (let i = 0; i < 3; i++) await rpcOk(db.sql, ada, "create_private_room", { name: `Room ${i}` });
      const refused = await rpc(db.sql, ada, "create_private_room", { name: "One too many" });
      expect(refused).toMatchObject({ ok: false, error: { code: "PT429", hint: "rate_limited" } });
      const [count] = await db.sql`select count(*)::int as n from roomkit.rooms where created_by = ${ada.id}`;
      expect(count?.n).toBe(3);
      // Someone else is not affected.
      expect((await rpc(db.sql, await insertUser(db.sql), "create_private_room", { name: "Mine" })).ok).toBe(
        true,
      );
    } finally {
      await db.sql`update roomkit_private.limits set rooms_per_hour = default`;
    }
  });

  it("when a user sends more invites in an hour than the limit, across rooms, then 429 rate_limited", async () => {
    const ada = await insertUser(db.sql);
    await db.sql`update roomkit_private.limits set invites_per_hour = 2`;
    try {
      const rooms = [
        await rpcOk<{ id: string }>(db.sql, ada, "create_private_room", { name: "A" }),
        await rpcOk<{ id: string }>(db.sql, ada, "create_private_room", { name: "B" }),
      ];
      await rpcOk(db.sql, ada, "send_invite", {
        room_id: rooms[0]?.id,
        invitee_id: (await insertUser(db.sql)).id,
      });
      await rpcOk(db.sql, ada, "send_invite", {
        room_id: rooms[1]?.id,
        invitee_id: (await insertUser(db.sql)).id,
      });
      const refused = await rpc(db.sql, ada, "send_invite", {
        room_id: rooms[1]?.id,
        invitee_id: (await insertUser(db.sql)).id,
      });
      expect(refused).toMatchObject({ ok: false, error: { code: "PT429", hint: "rate_limited" } });
    } finally {
      await db.sql`update roomkit_private.limits set invites_per_hour = default`;
    }
  });

  it("when one user asks the AI in several rooms, then the per-user budget stops them in every room, and others are still answered", async () => {
    const ada = await insertUser(db.sql, { name: "Ada" });
    const bob = await insertUser(db.sql, { name: "Bob" });
    const rooms: string[] = [];
    for (const name of ["One", "Two"]) {
      const room = await rpcOk<{ id: string }>(db.sql, ada, "create_private_room", {
        name,
        ai_mode: "always",
      });
      const invite = await rpcOk<{ id: string }>(db.sql, ada, "send_invite", {
        room_id: room.id,
        invitee_id: bob.id,
      });
      await rpcOk(db.sql, bob, "accept_invite", { invite_id: invite.id });
      rooms.push(room.id);
    }
    const [settings] = await db.sql<{ budget: string }[]>`
      select daily_user_token_budget::text as budget from roomkit_private.ai_settings`;
    await db.sql`insert into roomkit_private.ai_user_usage (user_id, day, tokens)
                 values (${ada.id}, (now() at time zone 'utc')::date, ${settings?.budget ?? "0"})`;
    for (const roomId of rooms)
      await rpcOk(db.sql, ada, "send_message", { room_id: roomId, body: "question" });
    await rpcOk(db.sql, bob, "send_message", { room_id: rooms[0], body: "my question" });
    const jobs = await db.sql<{ requested_by: string; status: string; last_error: string | null }[]>`
      select requested_by, status, last_error from roomkit_private.ai_jobs where room_id = any(${rooms}) order by id`;
    expect(jobs.filter((j) => j.requested_by === ada.id).map((j) => j.last_error)).toEqual([
      "user_budget_exhausted",
      "user_budget_exhausted",
    ]);
    expect(jobs.filter((j) => j.requested_by === bob.id).map((j) => j.status)).toEqual(["queued"]);
    const notices = await db.sql`
      select room_id from roomkit.room_messages where kind = 'system' and metadata ->> 'event' = 'ai_user_budget_exhausted'
        and room_id = any(${rooms})`;
    expect(notices).toHaveLength(2);
  });
});

describe("sign-out", () => {
  it("when a token's Auth session is gone (signed out), then it reads nothing and cannot act; with the session it can", async () => {
    const ada = await insertUser(db.sql);
    const room = await rpcOk<{ id: string }>(db.sql, ada, "create_private_room", { name: "Mine" });
    await rpcOk(db.sql, ada, "send_message", { room_id: room.id, body: "hello" });
    const sessionId = randomUUID();
    await db.sql`insert into auth.sessions (id, user_id, created_at) values (${sessionId}, ${ada.id}, now())`;
    const claims = JSON.stringify({ ...claimsOf(ada), session_id: sessionId });
    const asSession = (run: (tx: postgres.TransactionSql) => Promise<unknown>) =>
      pool
        .begin(async (tx) => {
          await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
          return run(tx);
        })
        .then(
          (value) => ({ ok: true as const, value }),
          (error) => ({ ok: false as const, hint: toDbError(error).hint }),
        );
    const read = (tx: postgres.TransactionSql) =>
      tx<{ id: string }[]>`select id from roomkit.room_messages where room_id = ${room.id}`;
    const send = (tx: postgres.TransactionSql) => tx`select roomkit.send_message(${room.id}, 'still here?')`;
    expect(await asSession(read)).toMatchObject({ ok: true, value: [{}] });
    expect((await asSession(send)).ok).toBe(true);
    await db.sql`delete from auth.sessions where id = ${sessionId}`;
    expect(await asSession(read)).toEqual({ ok: true, value: [] });
    expect(await asSession(send)).toEqual({ ok: false, hint: "not_member" });
    // A server-minted token (no session_id) is unaffected.
    expect(await as(db.sql, ada, read)).toHaveLength(2);
  });
});

describe("sign-up metadata", () => {
  it("when the metadata carries an over-long or non-http avatar, a blank name or a non-object, then the sign-up still succeeds", async () => {
    const cases: [string, unknown][] = [
      ["long avatar", { display_name: "Long", avatar_url: `https://x.example/${"a".repeat(3000)}` }],
      ["javascript avatar", { display_name: "Js", avatar_url: "javascript:alert(1)" }],
      ["blank name", { display_name: "\u200b\u200b", full_name: "   " }],
      ["array metadata", ["not", "an", "object"]],
    ];
    for (const [what, meta] of cases) {
      const id = randomUUID();
      await db.sql`
        insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
        values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', 'authenticated', ${`${id.slice(0, 8)}@example.test`},
                '{}', ${db.sql.json(meta as postgres.JSONValue)}, now(), now())`;
      const [profile] = await db.sql<{ display_name: string; avatar_url: string | null }[]>`
        select display_name, avatar_url from roomkit.profiles where id = ${id}`;
      expect(profile, what).toBeDefined();
      expect(profile?.avatar_url, what).toBeNull();
      expect(profile?.display_name.trim().length, what).toBeGreaterThan(0);
    }
  });
});

describe("numbers and clocks from outside", () => {
  it("when a provider reports 3 billion tokens, then the AI reply is still stored and usage is capped", async () => {
    const ada = await insertUser(db.sql);
    const room = await rpcOk<{ id: string }>(db.sql, ada, "create_private_room", {
      name: "Tokens",
      ai_mode: "always",
    });
    await rpcOk(db.sql, ada, "send_message", { room_id: room.id, body: "count to a lot" });
    // Other tests in this file queue AI jobs too; the claim below must get this room's.
    await db.sql`update roomkit_private.ai_jobs set status = 'skipped', finished_at = now()
                 where status = 'queued' and room_id <> ${room.id}`;
    const [claim] = await db.sql<{ job: { job_id: number; reply_id: string } }[]>`
      select roomkit_private.claim_ai_job() as job`;
    const [done] = await db.sql<{ id: string | null }[]>`
      select roomkit_private.complete_ai_job(${claim?.job.job_id ?? 0}, ${claim?.job.reply_id ?? ""}, 'A very long answer',
                                             3000000000, 3000000000) as id`;
    expect(done?.id).toBeTruthy();
    const [usage] =
      await db.sql`select completion_tokens::text from roomkit_private.ai_usage where room_id = ${room.id}`;
    expect(usage?.completion_tokens).toBe("1000000000");
  });

  it("when a member sets the read marker in the future, then it stops at now", async () => {
    const ada = await insertUser(db.sql);
    const room = await rpcOk<{ id: string }>(db.sql, ada, "create_private_room", { name: "Marker" });
    await rpcOk(db.sql, ada, "mark_room_read", { room_id: room.id, at: "2999-01-01T00:00:00Z" });
    const [row] = await db.sql<{ future: boolean }[]>`
      select last_read_at > now() + interval '1 minute' as future from roomkit.room_members
      where room_id = ${room.id} and user_id = ${ada.id}`;
    expect(row?.future).toBe(false);
  });
});
