/**
 * Realtime delivery latency, one run, three workloads with the same payload to 100 subscribers:
 *   (a) a member's WebSocket broadcast on the room's private `room:<id>:live` channel through the
 *       local Realtime surface;
 *   (b) a database insert (`realtime.send`) to the room's receive-only `room:<id>` channel,
 *       delivered through logical replication;
 *   (c) a bare in-process `ws` fan-out (the floor: one encode, 100 socket writes).
 * Targets: (a) p99 ≤ 2 × (c) p99; (b) p50 < 20 ms. Writes bench/results/realtime.json.
 *
 * Run: `npx tsx bench/realtime.ts` (ROOMKIT_BENCH_DB_URL=<server url> to reuse a Postgres whose
 * user may create databases; otherwise a throwaway embedded PostgreSQL 17 is started).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { WebSocket, WebSocketServer } from "ws";
import { roomLiveTopic, roomTopic } from "../functions/_shared/contract.ts";
import { signJwt } from "../packages/stack/src/jwt.ts";
import { prepareDatabase } from "../packages/stack/src/migrate.ts";
import { freePort } from "../packages/stack/src/net.ts";
import { startThrowawayPostgres, withDatabase } from "../packages/stack/src/postgres.ts";
import {
  broadcastFrame,
  joinChannel,
  openSocket,
  realtimeUrl,
  type Stats,
  sleep,
  startBenchStack,
  stats,
} from "./_support.ts";

const SUBSCRIBERS = 100;
const MESSAGES = 200;
/** Gap between sends: a steady chat-like load, not a saturation test. */
const INTERVAL_MS = 10;
const WARMUP = 20;
const PAYLOAD = { text: "x".repeat(200), sender: randomUUID() };

/** Latency recorder: `sent[seq]` = send time; receivers report (seq, now). */
class Recorder {
  readonly sent = new Map<number, number>();
  readonly latencies: number[] = [];
  received = 0;
  record(seq: number): void {
    this.received += 1;
    const t0 = this.sent.get(seq);
    if (t0 !== undefined && seq >= WARMUP) this.latencies.push(performance.now() - t0);
  }
}

/** Extracts `seq` from a server kind-4 frame (realtime-js layout) or a v2 text frame. */
function seqOf(data: Buffer, isBinary: boolean): number | undefined {
  if (isBinary) {
    if (data[0] !== 4) return undefined;
    const offset = 5 + (data[1] ?? 0) + (data[2] ?? 0) + (data[3] ?? 0);
    return (JSON.parse(data.toString("utf8", offset)) as { seq?: number }).seq;
  }
  const msg = JSON.parse(data.toString("utf8")) as unknown[];
  if (msg[3] !== "broadcast") return undefined;
  return (msg[4] as { payload?: { seq?: number } } | undefined)?.payload?.seq;
}

async function benchStack(dbUrl: string): Promise<{ ws: Stats; db: Stats }> {
  const stack = await startBenchStack(dbUrl);
  const { keys } = stack;
  const sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
  const sockets: WebSocket[] = [];
  try {
    const userId = randomUUID();
    await sql`insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
              values ('00000000-0000-0000-0000-000000000000', ${userId}, 'authenticated', 'authenticated', ${`${userId}@bench.local`},
                      '{}', '{}', now(), now())`;
    const [room] = await sql<{ id: string }[]>`
      insert into roomkit.rooms (kind, name, ai_mode, created_by) values ('private', 'bench', 'off', ${userId}) returning id`;
    if (!room) throw new Error("no room");
    await sql`insert into roomkit.room_members (room_id, user_id, role) values (${room.id}, ${userId}, 'owner')`;
    const now = Math.floor(Date.now() / 1000);
    const token = await signJwt(
      { sub: userId, role: "authenticated", aud: "authenticated", iat: now, exp: now + 3600 },
      keys,
    );
    // Members send on `room:<id>:live`; the database alone sends on `room:<id>`.
    const events = roomTopic(room.id, 1);
    const live = roomLiveTopic(room.id, 1);
    const url = realtimeUrl(stack.apiUrl, keys.anonKey);

    const wsRec = new Recorder();
    const dbRec = new Recorder();
    let current = wsRec;
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const ws = await openSocket(url);
      await joinChannel(ws, live, token, "1");
      await joinChannel(ws, events, token, "2");
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        const seq = seqOf(data, isBinary);
        if (seq !== undefined) current.record(seq);
      });
      sockets.push(ws);
    }
    const sender = await openSocket(url);
    sockets.push(sender);
    await joinChannel(sender, live, token, "1");

    // (a) WebSocket broadcast, sent as realtime-js sends it (binary kind 3).
    for (let seq = 0; seq < MESSAGES; seq++) {
      const frame = broadcastFrame("1", String(seq + 2), live, "bench", { ...PAYLOAD, seq });
      wsRec.sent.set(seq, performance.now());
      sender.send(frame);
      await sleep(INTERVAL_MS);
    }
    await sleep(500);

    // (b) Database: realtime.send commits a row, replication fans it out.
    current = dbRec;
    for (let seq = 0; seq < MESSAGES; seq++) {
      dbRec.sent.set(seq, performance.now());
      await sql`select realtime.send(${sql.json({ ...PAYLOAD, seq })}, 'bench', ${events}, true)`;
      await sleep(INTERVAL_MS);
    }
    await sleep(1000);
    const expected = (MESSAGES - WARMUP) * SUBSCRIBERS;
    if (wsRec.latencies.length !== expected) {
      // A lost or duplicated delivery is a failure, not a number (bench/run.ts convention).
      console.error(`ws: ${wsRec.latencies.length}/${expected} deliveries`);
      process.exitCode = 1;
    }
    if (dbRec.latencies.length !== expected) {
      // A lost or duplicated delivery is a failure, not a number (bench/run.ts convention).
      console.error(`db: ${dbRec.latencies.length}/${expected} deliveries`);
      process.exitCode = 1;
    }
    return { ws: stats(wsRec.latencies), db: stats(dbRec.latencies) };
  } finally {
    for (const s of sockets) s.terminate();
    await sql.end();
    await stack.close();
  }
}

/** (c): the same payload, encoded once, written to 100 sockets by a bare `ws` server. */
async function benchBareWs(): Promise<Stats> {
  const port = await freePort();
  const wss = new WebSocketServer({ port, host: "127.0.0.1" });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const rec = new Recorder();
  const clients: WebSocket[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise<void>((r) => ws.once("open", () => r()));
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const seq = seqOf(data, isBinary);
      if (seq !== undefined) rec.record(seq);
    });
    clients.push(ws);
  }
  for (let seq = 0; seq < MESSAGES; seq++) {
    rec.sent.set(seq, performance.now());
    const text = JSON.stringify([
      null,
      null,
      "realtime:bench",
      "broadcast",
      { type: "broadcast", event: "bench", payload: { ...PAYLOAD, seq } },
    ]);
    for (const client of wss.clients) client.send(text);
    await sleep(INTERVAL_MS);
  }
  await sleep(500);
  for (const c of clients) c.terminate();
  await new Promise<void>((r) => wss.close(() => r()));
  return stats(rec.latencies);
}

async function main(): Promise<void> {
  let serverUrl = process.env.ROOMKIT_BENCH_DB_URL;
  let cleanup = async () => {};
  if (!serverUrl) {
    const pg = await startThrowawayPostgres("roomkit-bench-pg-");
    serverUrl = pg.url;
    cleanup = pg.stop;
  }
  const dbName = `bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const dbUrl = withDatabase(serverUrl, dbName);
  try {
    await prepareDatabase(dbUrl, {
      projectDir: join(dirname(fileURLToPath(import.meta.url)), ".."),
      seed: false,
    });
    const bare = await benchBareWs();
    const { ws, db } = await benchStack(dbUrl);
    const result = {
      benchmark: "realtime",
      date: new Date().toISOString(),
      node: process.version,
      setup: {
        subscribers: SUBSCRIBERS,
        messages: MESSAGES,
        warmup: WARMUP,
        intervalMs: INTERVAL_MS,
        payloadBytes: JSON.stringify(PAYLOAD).length,
      },
      unit: "ms",
      a_websocket_broadcast_private: ws,
      b_database_insert_realtime_send: db,
      c_bare_ws_fanout: bare,
      ratios: {
        a_over_c_p50: Math.round((ws.p50 / bare.p50) * 100) / 100,
        a_over_c_p99: Math.round((ws.p99 / bare.p99) * 100) / 100,
        b_over_c_p50: Math.round((db.p50 / bare.p50) * 100) / 100,
        b_over_c_p99: Math.round((db.p99 / bare.p99) * 100) / 100,
      },
      targets: { a_p99_at_most_2x_c: ws.p99 <= 2 * bare.p99, b_p50_under_20ms: db.p50 < 20 },
    };
    const out = join(dirname(fileURLToPath(import.meta.url)), "results", "realtime.json");
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
    await cleanup();
  }
}

await main();
