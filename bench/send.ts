/**
 * Sending messages through REST, in one private room of 100 members (ai_mode `mention`):
 *   1. send_rest_over_bare_insert: 50 members send concurrently through `POST /rest/v1/rpc/send_message`
 *      (JWT check, RLS helpers, the insert, its triggers: realtime broadcast row, AI queue check);
 *      throughput over a bare `insert` of the same rows by the table owner with triggers off, from
 *      50 concurrent workers over a pool the size of the REST surface's (10). Target ≥ 0.5.
 *   2. send_to_subscriber_p50_ms: one member sends through REST every 20 ms; latency from the
 *      request to the `message.insert` broadcast at each of 100 subscribers of `room:<id>:<epoch>`
 *      (one socket per member, private channel). Target p50 ≤ 20 ms and p99 ≤ 60 ms.
 * Writes bench/results/send.json and both summary entries.
 *
 * Run: `npx tsx bench/send.ts` (or `npm run bench -- send`).
 */
import postgres from "postgres";
import type { WebSocket } from "ws";
import { roomTopic } from "../functions/_shared/contract.ts";
import { mergeSummary } from "./_summary.ts";
import {
  addMembers,
  type BenchUser,
  cpuDiff,
  cpuSecondsByCommand,
  createRooms,
  createUsers,
  joinChannel,
  markOf,
  openSocket,
  Recorder,
  ratio,
  realtimeUrl,
  round1,
  sleep,
  startBenchDatabase,
  startBenchStack,
  stats,
  userToken,
  writeResult,
} from "./_support.ts";

const MEMBERS = 100;
const SENDERS = 50;
const MESSAGES_PER_SENDER = 30;
/** Alternated rounds of (bare, REST), so load from elsewhere on the machine falls on both alike. */
const ROUNDS = 2;
const REST_POOL = 10;
const LATENCY_MESSAGES = 150;
const LATENCY_WARMUP = 10;
const LATENCY_INTERVAL_MS = 20;
const MARK = "mark-";

const THROUGHPUT_TARGET = 0.5;
const P50_TARGET_MS = 20;
const P99_TARGET_MS = 60;

async function main(): Promise<void> {
  const db = await startBenchDatabase("roomkit-bench-send-");
  const stack = await startBenchStack(db.dbUrl);
  const sockets: WebSocket[] = [];
  try {
    const users = await createUsers(db.sql, "send", MEMBERS);
    const owner = users[0]!;
    const [room] = await createRooms(db.sql, owner, 1);
    await addMembers(
      db.sql,
      users.map((u, i) => [room!, u.id, i === 0 ? "owner" : "member"]),
    );
    const tokens = await Promise.all(users.map((u) => userToken(stack.keys, stack.apiUrl, u)));

    const send = async (token: string, body: string): Promise<void> => {
      const res = await fetch(`${stack.apiUrl}/rest/v1/rpc/send_message`, {
        method: "POST",
        headers: {
          apikey: stack.keys.anonKey,
          authorization: `Bearer ${token}`,
          "content-profile": "roomkit",
          "content-type": "application/json",
        },
        body: JSON.stringify({ room_id: room, body }),
      });
      if (res.status !== 200) throw new Error(`send_message: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };

    // Throughput: the same rows both ways; each worker sends its messages one after another.
    const pool = postgres(db.dbUrl, { max: REST_POOL, onnotice: () => {} });
    const bare = async (round: number) => {
      const t0 = performance.now();
      await Promise.all(
        users.slice(0, SENDERS).map(async (u: BenchUser) => {
          for (let i = 0; i < MESSAGES_PER_SENDER; i++) {
            await pool.begin(async (tx) => {
              await tx`set local session_replication_role = replica`;
              await tx`insert into roomkit.room_messages (room_id, sender_id, kind, body)
                       values (${room!}, ${u.id}, 'text', ${`bare ${round} ${i} from ${u.index}`})`;
            });
          }
        }),
      );
      return performance.now() - t0;
    };
    const rest = async (round: number) => {
      const t0 = performance.now();
      await Promise.all(
        tokens.slice(0, SENDERS).map(async (token, k) => {
          for (let i = 0; i < MESSAGES_PER_SENDER; i++) await send(token, `rest ${round} ${i} from ${k}`);
        }),
      );
      return performance.now() - t0;
    };
    // The floor of any REST request here: a member reads one room row by id (JWT, role switch,
    // RLS, one index lookup), as many requests from as many workers.
    const floor = async () => {
      const t0 = performance.now();
      await Promise.all(
        tokens.slice(0, SENDERS).map(async (token) => {
          for (let i = 0; i < MESSAGES_PER_SENDER; i++) {
            const res = await fetch(`${stack.apiUrl}/rest/v1/rooms?id=eq.${room}&select=id`, {
              headers: {
                apikey: stack.keys.anonKey,
                authorization: `Bearer ${token}`,
                "accept-profile": "roomkit",
              },
            });
            if (res.status !== 200) throw new Error(`rooms: ${res.status} ${await res.text()}`);
            await res.arrayBuffer();
          }
        }),
      );
      return performance.now() - t0;
    };
    await bare(-1);
    await rest(-1);
    await floor();
    const bareMs: number[] = [];
    const restMs: number[] = [];
    const floorMs: number[] = [];
    const cpuBare: Record<string, number>[] = [];
    const cpuRest: Record<string, number>[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let before = await cpuSecondsByCommand(process.pid);
      bareMs.push(await bare(r));
      cpuBare.push(cpuDiff(before, await cpuSecondsByCommand(process.pid)));
      before = await cpuSecondsByCommand(process.pid);
      restMs.push(await rest(r));
      cpuRest.push(cpuDiff(before, await cpuSecondsByCommand(process.pid)));
      floorMs.push(await floor());
    }
    // One send as the member inside Postgres, with its triggers' times.
    const sender0 = users[1]!;
    const explain = await db.sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
                      set_config('request.jwt.claims', ${JSON.stringify({ sub: sender0.id, role: "authenticated", session_id: sender0.sessionId })}, true)`;
      const q = `explain (analyze, buffers) select roomkit.send_message('${room}', 'explained')`;
      await tx.unsafe(q);
      return (await tx.unsafe<{ "QUERY PLAN": string }[]>(q)).map((r) => r["QUERY PLAN"]);
    });
    await pool.end();
    const perRound = SENDERS * MESSAGES_PER_SENDER;
    const bareRate = (perRound * ROUNDS) / (bareMs.reduce((a, b) => a + b) / 1000);
    const restRate = (perRound * ROUNDS) / (restMs.reduce((a, b) => a + b) / 1000);
    const floorRate = (perRound * ROUNDS) / (floorMs.reduce((a, b) => a + b) / 1000);
    const throughputRatio = ratio(restRate, bareRate);
    console.log(
      `throughput: REST send ${Math.round(restRate)}/s, bare insert ${Math.round(bareRate)}/s, REST floor ${Math.round(floorRate)}/s`,
    );

    // Latency: every member subscribes to the room's events topic on its own socket.
    const url = realtimeUrl(stack.apiUrl, stack.keys.anonKey);
    const topic = roomTopic(room!, 1);
    const rec = new Recorder(LATENCY_WARMUP);
    for (const token of tokens) {
      const ws = await openSocket(url);
      await joinChannel(ws, topic, token, "1");
      ws.on("message", (data: Buffer) => {
        const seq = markOf(data, MARK);
        if (seq !== undefined) rec.received(seq);
      });
      sockets.push(ws);
    }
    const sender = tokens[1]!;
    const roundTrips: number[] = [];
    for (let seq = 0; seq < LATENCY_MESSAGES; seq++) {
      rec.sent(seq);
      const t0 = performance.now();
      await send(sender, `${MARK}${seq}`);
      if (seq >= LATENCY_WARMUP) roundTrips.push(performance.now() - t0);
      await sleep(LATENCY_INTERVAL_MS);
    }
    await sleep(1000);
    const expected = (LATENCY_MESSAGES - LATENCY_WARMUP) * MEMBERS;
    const delivery = stats(rec.latencies);
    const restTrip = stats(roundTrips);
    const complete = rec.latencies.length === expected;
    if (!complete) console.error(`deliveries: ${rec.latencies.length}/${expected}`);

    const result = {
      benchmark: "send",
      date: new Date().toISOString(),
      node: process.version,
      setup: {
        members: MEMBERS,
        senders: SENDERS,
        messages_per_sender: MESSAGES_PER_SENDER,
        rounds: ROUNDS,
        bare_pool: REST_POOL,
        latency_messages: LATENCY_MESSAGES,
        latency_warmup: LATENCY_WARMUP,
        latency_interval_ms: LATENCY_INTERVAL_MS,
        subscribers: MEMBERS,
      },
      throughput: {
        rest_per_s: Math.round(restRate),
        bare_insert_per_s: Math.round(bareRate),
        rest_ms: restMs.map(round1),
        bare_ms: bareMs.map(round1),
        ratio: throughputRatio,
        // The cheapest authenticated REST read, same workers and count: REST's own ceiling here.
        rest_floor_per_s: Math.round(floorRate),
        rest_floor_over_bare: ratio(floorRate, bareRate),
        rest_send_over_rest_floor: ratio(restRate, floorRate),
        // CPU seconds per process kind during each round (node = stack and this client).
        cpu_seconds: { bare: cpuBare, rest: cpuRest },
      },
      send_message_explain: explain,
      delivery_ms: delivery,
      rest_round_trip_ms: restTrip,
      deliveries: { expected, measured: rec.latencies.length, complete },
    };
    console.table({ delivery, rest_round_trip: restTrip });
    await writeResult("send", result);
    await mergeSummary([
      {
        id: "send_rest_over_bare_insert",
        value: throughputRatio,
        unit: "x",
        baseline: 1,
        target: THROUGHPUT_TARGET,
        met: throughputRatio >= THROUGHPUT_TARGET,
      },
      {
        id: "send_to_subscriber_p50_ms",
        value: delivery.p50,
        unit: "ms",
        // No baseline in the issue: the REST round trip of the same sends, for scale.
        baseline: restTrip.p50,
        target: P50_TARGET_MS,
        met: complete && delivery.p50 <= P50_TARGET_MS && delivery.p99 <= P99_TARGET_MS,
      },
    ]);
    if (!complete) process.exitCode = 1;
  } finally {
    for (const s of sockets) s.terminate();
    await stack.close();
    await db.stop();
  }
}

await main();
