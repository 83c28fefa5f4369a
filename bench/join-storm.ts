/**
 * A join storm through the `coworking` function: 1,000 users join at once, spread over 50
 * coworking rooms of capacity 8–20 (20 joiners a room, about 700 seats), each with a real session
 * and the full path (gateway → Deno function → `join_coworking_room` under RLS → LiveKit token).
 *   1. join_storm_overbooked: active participants above capacity, summed over the rooms. Target 0.
 *   2. join_storm_p99_ms: p99 of each join's latency (200 and 409 alike) in the storm; baseline: the
 *      median of uncontended joins (one at a time, a room with room to spare). Target ≤ 1 s.
 * Writes bench/results/join-storm.json and both summary entries.
 *
 * Run: `npx tsx bench/join-storm.ts` (or `npm run bench -- join-storm`). Needs Deno's npm cache
 * (`ROOMKIT_DENO_DIR` or `.roomkit/deno`), as `npm start` does.
 */

import { mergeSummary } from "./_summary.ts";
import {
  cpuDiff,
  cpuSecondsByCommand,
  createRooms,
  createUsers,
  ratio,
  round1,
  startBenchDatabase,
  startBenchStack,
  stats,
  userToken,
  writeResult,
} from "./_support.ts";

const JOINERS = 1000;
const ROOMS = 50;
/** Capacity of room i: 8 … 20. */
const capacity = (i: number) => 8 + ((i * 7) % 13);
const UNCONTENDED_RUNS = 15;
const UNCONTENDED_WARMUP = 3;
const P99_TARGET_MS = 1000;

async function main(): Promise<void> {
  const db = await startBenchDatabase("roomkit-bench-join-");
  const stack = await startBenchStack(db.dbUrl, {
    functions: true,
    // Joins mint a LiveKit token locally; no LiveKit server is called.
    functionsEnv: {
      LIVEKIT_URL: "ws://127.0.0.1:7880",
      LIVEKIT_API_KEY: "bench-key",
      LIVEKIT_API_SECRET: "bench-secret-bench-secret-bench-secret",
    },
    sweepIntervalMs: 3_600_000,
  });
  try {
    const users = await createUsers(db.sql, "join", JOINERS + UNCONTENDED_RUNS + UNCONTENDED_WARMUP);
    const owner = users[0]!;
    const rooms = await createRooms(db.sql, owner, ROOMS, "coworking", capacity);
    const [spare] = await createRooms(db.sql, owner, 1, "coworking", () => 500);
    const tokens = await Promise.all(users.map((u) => userToken(stack.keys, stack.apiUrl, u)));

    const join = async (token: string, roomId: string): Promise<{ ms: number; status: number }> => {
      const t0 = performance.now();
      const res = await fetch(`${stack.apiUrl}/functions/v1/coworking/rooms/${roomId}/join`, {
        method: "POST",
        headers: { apikey: stack.keys.anonKey, authorization: `Bearer ${token}` },
      });
      await res.arrayBuffer();
      return { ms: performance.now() - t0, status: res.status };
    };

    // Baseline: one join at a time, nobody else joining.
    const alone: number[] = [];
    for (let i = 0; i < UNCONTENDED_RUNS + UNCONTENDED_WARMUP; i++) {
      const r = await join(tokens[JOINERS + i]!, spare!);
      if (r.status !== 200) throw new Error(`uncontended join: ${r.status}`);
      if (i >= UNCONTENDED_WARMUP) alone.push(r.ms);
    }

    const cpuBefore = await cpuSecondsByCommand(process.pid);
    const started = performance.now();
    // What the functions' connections are doing, sampled every 20 ms during the storm.
    const states: Record<string, number> = {};
    let storming = true;
    const sampler = (async () => {
      while (storming) {
        const rows = await db.sql<{ state: string; n: number }[]>`
          select coalesce(state, '') || coalesce(' / ' || wait_event_type || ':' || wait_event, '') as state,
                 count(*)::int as n
          from pg_stat_activity where application_name = 'roomkit-functions' group by 1`;
        for (const r of rows) states[r.state] = (states[r.state] ?? 0) + r.n;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const storm = await Promise.all(
      Array.from({ length: JOINERS }, (_, i) => join(tokens[i]!, rooms[i % ROOMS]!)),
    );
    storming = false;
    await sampler;
    const sampled = Object.values(states).reduce((a, b) => a + b, 0);
    const connectionStates = Object.fromEntries(
      Object.entries(states)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, round1((100 * v) / sampled)]),
    );
    const stormSeconds = round1((performance.now() - started) / 1000);
    // Where the machine's time went: CPU seconds per process kind during the storm.
    const cpu = cpuDiff(cpuBefore, await cpuSecondsByCommand(process.pid));
    const statuses: Record<string, number> = {};
    for (const r of storm) statuses[r.status] = (statuses[r.status] ?? 0) + 1;

    const occupancy = await db.sql<{ id: string; capacity: number; active: number }[]>`
      select r.id, r.capacity, (select count(*)::int from roomkit.room_members m
                                 where m.room_id = r.id and m.left_at is null) as active
      from roomkit.rooms r where r.id = any(${rooms}::uuid[])`;
    const overbooked = occupancy.reduce((sum, r) => sum + Math.max(0, r.active - r.capacity), 0);
    const seats = occupancy.reduce((sum, r) => sum + r.capacity, 0);
    const filled = occupancy.reduce((sum, r) => sum + r.active, 0);
    // Every 200 must hold a seat and every seat a 200 (joins are idempotent only for the same user).
    const consistent = (statuses["200"] ?? 0) === filled && filled === seats;
    const unexpected = storm.filter((r) => r.status !== 200 && r.status !== 409).length;

    const s = stats(storm.map((r) => r.ms));
    const base = stats(alone);
    console.table({ storm: s, uncontended: base });
    console.log({ statuses, seats, filled, overbooked, consistent, stormSeconds, cpu, connectionStates });

    await writeResult("join-storm", {
      benchmark: "join-storm",
      date: new Date().toISOString(),
      node: process.version,
      setup: { joiners: JOINERS, rooms: ROOMS, capacities: "8 + (7i mod 13): 8 … 20", seats },
      storm_seconds: stormSeconds,
      cpu_seconds_during_storm: cpu,
      // Share of samples (%) of the functions' Postgres connections in each state / wait event.
      functions_connection_states_pct: connectionStates,
      cpu_ms_per_join: Object.fromEntries(
        Object.entries(cpu).map(([k, v]) => [k, round1((v * 1000) / JOINERS)]),
      ),
      statuses,
      filled,
      overbooked,
      consistent,
      storm_ms: s,
      uncontended_ms: base,
      ratios: { storm_p99_over_uncontended_p50: ratio(s.p99, base.p50) },
    });
    await mergeSummary([
      {
        id: "join_storm_overbooked",
        value: overbooked,
        unit: "seats",
        baseline: 0,
        target: 0,
        met: overbooked === 0 && consistent && unexpected === 0,
      },
      {
        id: "join_storm_p99_ms",
        value: s.p99,
        unit: "ms",
        baseline: base.p50,
        target: P99_TARGET_MS,
        met: s.p99 <= P99_TARGET_MS && unexpected === 0,
      },
    ]);
    if (unexpected > 0) process.exitCode = 1;
  } finally {
    await stack.close();
    await db.stop();
  }
}

await main();
