/**
 * join_coworking_room under real concurrency: 200 users, each on their own connection with an
 * open transaction (PostgREST-style role + claims), released together at a barrier so all 200
 * calls reach Postgres at once. The room row lock must make the capacity check exact.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Actor, impersonate, toDbError } from "../support/acting.ts";
import { createTestDatabase, type Sql, type TestDatabase } from "../support/db.ts";
import { coworkingRoom } from "../support/rooms.ts";
import { insertUser, insertUsers, type User } from "../support/users.ts";

const RACERS = 200;
const CAPACITY = 10;
const RUNS = 20;

type JoinResult = { ok: true; userId: string } | { ok: false; code: string; hint: string | undefined };

/** Opens one transaction per actor, waits until all are open, then calls join_coworking_room in all of them at once. */
async function joinAllAtOnce(pool: Sql, actors: Actor[], roomId: string): Promise<JoinResult[]> {
  let release!: () => void;
  const barrier = new Promise<void>((resolve) => {
    release = resolve;
  });
  let open = 0;
  const calls = actors.map(async (actor): Promise<JoinResult> => {
    try {
      const [row] = await pool.begin(async (tx) => {
        await impersonate(tx, actor);
        open += 1;
        if (open === actors.length) release();
        await barrier;
        return tx<{ user_id: string }[]>`select user_id from roomkit.join_coworking_room(${roomId})`;
      });
      return { ok: true, userId: String(row?.user_id) };
    } catch (error) {
      const e = toDbError(error);
      return { ok: false, code: e.code, hint: e.hint };
    }
  });
  return Promise.all(calls);
}

let db: TestDatabase;
let pool: Sql;
let racers: User[];

beforeAll(async () => {
  db = await createTestDatabase();
  // One pool, one connection per racer: every transaction below runs on its own backend.
  pool = postgres(db.url, { max: RACERS, onnotice: () => {}, idle_timeout: 0 });
  racers = await insertUsers(
    db.sql,
    Array.from({ length: RACERS }, (_, i) => ({ name: `racer ${i}` })),
  );
  await Promise.all(Array.from({ length: RACERS }, () => pool.begin((tx) => tx`select pg_sleep(0.05)`)));
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe("capacity race", () => {
  it(`when ${RACERS} users join a capacity-${CAPACITY} room at the same moment, ${RUNS} times, then exactly ${CAPACITY} get in each time and the rest get room_full`, async () => {
    const started = Date.now();
    const summary: string[] = [];
    for (let run = 0; run < RUNS; run++) {
      const roomId = await coworkingRoom(db.sql, { capacity: CAPACITY, name: `Race ${run}` });
      const results = await joinAllAtOnce(pool, racers, roomId);
      const admitted = results.filter((r) => r.ok);
      const refused = results.filter((r) => !r.ok);
      const otherErrors = refused.filter((r) => r.code !== "PT409" || r.hint !== "room_full");
      const [state] = await db.sql<{ members: number; joined: number; distinct_users: number }[]>`
          select (select count(*)::int from roomkit.room_members where room_id = ${roomId} and left_at is null) as members,
                 (select count(distinct user_id)::int from roomkit.room_members where room_id = ${roomId}) as distinct_users,
                 (select count(*)::int from roomkit.room_messages
                   where room_id = ${roomId} and kind = 'system' and metadata ->> 'event' = 'joined') as joined`;
      expect({ run, admitted: admitted.length, refused: refused.length, otherErrors, state }).toEqual({
        run,
        admitted: CAPACITY,
        refused: RACERS - CAPACITY,
        otherErrors: [],
        state: { members: CAPACITY, joined: CAPACITY, distinct_users: CAPACITY },
      });
      summary.push(`${admitted.length}/${refused.length}`);
    }
    console.log(
      `capacity race: ${RUNS} runs × ${RACERS} joins on capacity ${CAPACITY}: admitted/room_full per run ${summary.join(" ")}; ${Date.now() - started} ms`,
    );
  }, 60_000);

  it("when the same user joins twice at the same moment, then there is one membership and one joined message", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: CAPACITY, name: "Double join" });
    const ada = await insertUser(db.sql, { name: "Ada" });
    const results = await joinAllAtOnce(pool, [ada, ada, ada, ada], roomId);
    expect(results).toEqual(Array(4).fill({ ok: true, userId: ada.id }));
    const [state] = await db.sql<{ members: number; joined: number }[]>`
      select (select count(*)::int from roomkit.room_members where room_id = ${roomId}) as members,
             (select count(*)::int from roomkit.room_messages
               where room_id = ${roomId} and kind = 'system' and metadata ->> 'event' = 'joined') as joined`;
    expect(state).toEqual({ members: 1, joined: 1 });
  });

  it("when the last seat is raced by users who were in before, then leaving and rejoining still never overbooks", async () => {
    const roomId = await coworkingRoom(db.sql, { capacity: 3, name: "Churn" });
    const crowd = racers.slice(0, 30);
    const first = await joinAllAtOnce(pool, crowd, roomId);
    const inside = first.flatMap((r) => (r.ok ? [r.userId] : []));
    expect(inside).toHaveLength(3);
    // Those inside leave while everyone else races again: still at most 3, and exactly 3 end up in.
    const leavers = crowd.filter((u) => inside.includes(u.id));
    await Promise.all(
      leavers.map((u) =>
        pool.begin(async (tx) => {
          await impersonate(tx, u);
          await tx`select roomkit.leave_room(${roomId})`;
        }),
      ),
    );
    const second = await joinAllAtOnce(pool, crowd, roomId);
    expect(second.filter((r) => r.ok)).toHaveLength(3);
    const [{ members } = { members: -1 }] = await db.sql<{ members: number }[]>`
      select count(*)::int as members from roomkit.room_members where room_id = ${roomId} and left_at is null`;
    expect(members).toBe(3);
  });
});
