/**
 * Realtime at room scale, against a bare `ws` relay of the same shape measured in the same run
 * (sockets in an in-process map per room, each frame from a sender relayed to the room's others):
 *   1. fanout_1000_p99_over_bare: one room, 1,000 subscribers (one socket per member) on
 *      `room:<id>:<epoch>:live`; a member broadcasts every 100 ms; latency from send to each
 *      receipt. Target p99 ≤ 2 × bare.
 *   2. rooms_100x10_p99_over_bare: 100 rooms × 10 subscribers (+ 1 sender each), one message a
 *      second per room, rooms staggered 10 ms apart. Target p99 ≤ 2 × bare.
 *   3. channel_join_auth_ms: a user in 50 rooms joins the private events topic of a room of
 *      10,000 members (the realtime.messages policies, `roomkit_private.can_use_room_topic`) over
 *      joining a public channel (no policy). Target ≤ 3.0.
 * Senders and receivers share this process with the stack, as with the bare relay.
 * Writes bench/results/fanout.json and the three summary entries.
 *
 * Run: `npx tsx bench/fanout.ts` (or `npm run bench -- fanout`).
 */
import type { WebSocket } from "ws";
import { roomLiveTopic, roomTopic } from "../functions/_shared/contract.ts";
import { mergeSummary } from "./_summary.ts";
import {
  addMembers,
  broadcastFrame,
  createRooms,
  createUsers,
  joinBare,
  joinChannel,
  leaveChannel,
  markOf,
  openSocket,
  Recorder,
  ratio,
  realtimeUrl,
  round1,
  type Stats,
  sleep,
  startBareRelay,
  startBenchDatabase,
  startBenchStack,
  stats,
  userToken,
  writeResult,
} from "./_support.ts";

const BIG_ROOM_MEMBERS = 10_000;
const FANOUT_SUBSCRIBERS = 1000;
const FANOUT_MESSAGES = 60;
const FANOUT_WARMUP = 10;
const FANOUT_INTERVAL_MS = 100;
const ROOMS = 100;
const PER_ROOM = 10;
/** Seconds of one message a second per room; the first is warm-up. */
const ROOMS_SECONDS = 7;
const ROOMS_WARMUP_SECONDS = 1;
/** Rooms the joining user is in (the big room and 49 small ones). */
const USER_ROOMS = 50;
const JOIN_RUNS = 100;
const MARK = "mark-";
const PAYLOAD_TEXT = "x".repeat(200);

const FANOUT_TARGET = 2;
const JOIN_TARGET = 3;

/** Sends through one socket per room (index = room), sender `s` at `k` ms past each second. */
interface Shape {
  /** Subscriber sockets, by room. */
  subscribers: WebSocket[][];
  senders: WebSocket[];
  send(room: number, seq: number): void;
}

async function fanoutRun(
  shape: Shape,
  messages: number,
  intervalMs: number,
  warmup: number,
): Promise<Recorder> {
  const rec = new Recorder(warmup);
  for (const ws of shape.subscribers.flat())
    ws.on("message", (data: Buffer) => {
      const seq = markOf(data, MARK);
      if (seq !== undefined) rec.received(seq);
    });
  for (let seq = 0; seq < messages; seq++) {
    rec.sent(seq);
    shape.send(0, seq);
    await sleep(intervalMs);
  }
  await sleep(1500);
  return rec;
}

/** Every room sends once a second, room r at r·(1000/rooms) ms; seq = second·rooms + room. */
async function roomsRun(
  shape: Shape,
  rooms: number,
  seconds: number,
  warmupSeconds: number,
): Promise<Recorder> {
  const rec = new Recorder(warmupSeconds * rooms);
  shape.subscribers.forEach((group) => {
    for (const ws of group)
      ws.on("message", (data: Buffer) => {
        const seq = markOf(data, MARK);
        if (seq !== undefined) rec.received(seq);
      });
  });
  const start = performance.now();
  for (let s = 0; s < seconds; s++) {
    for (let r = 0; r < rooms; r++) {
      const due = start + s * 1000 + (r * 1000) / rooms;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const seq = s * rooms + r;
      rec.sent(seq);
      shape.send(r, seq);
    }
  }
  await sleep(1500);
  return rec;
}

async function bareShape(url: string, rooms: number, perRoom: number): Promise<Shape> {
  const subscribers: WebSocket[][] = [];
  const senders: WebSocket[] = [];
  for (let r = 0; r < rooms; r++) {
    const group: WebSocket[] = [];
    for (let i = 0; i < perRoom; i++) {
      const ws = await openSocket(url);
      await joinBare(ws, `room-${r}`);
      group.push(ws);
    }
    subscribers.push(group);
    const sender = await openSocket(url);
    await joinBare(sender, `room-${r}`);
    senders.push(sender);
  }
  return {
    subscribers,
    senders,
    send: (r, seq) =>
      senders[r]!.send(
        `room-${r}|${JSON.stringify({ type: "broadcast", event: "bench", payload: { text: PAYLOAD_TEXT, m: `${MARK}${seq}` } })}`,
      ),
  };
}

const closeShape = (shape: Shape) => {
  for (const ws of [...shape.subscribers.flat(), ...shape.senders]) ws.terminate();
};

async function main(): Promise<void> {
  const db = await startBenchDatabase("roomkit-bench-fanout-");
  const stack = await startBenchStack(db.dbUrl);
  const relay = await startBareRelay();
  const open: Shape[] = [];
  try {
    const t0 = performance.now();
    const users = await createUsers(db.sql, "fanout", BIG_ROOM_MEMBERS);
    const owner = users[0]!;
    const [big, ...small] = await createRooms(db.sql, owner, 1 + ROOMS);
    // Big room: everyone. Small room r: subscribers 10r … 10r+9, sender 1000 + r. User 0 is also
    // in small rooms 1 … 48: with the big room and small room 0, 50 rooms.
    const pairs: [string, string, string?][] = users.map((u, i) => [
      big!,
      u.id,
      i === 0 ? "owner" : "member",
    ]);
    small.forEach((room, r) => {
      for (let i = 0; i < PER_ROOM; i++) pairs.push([room, users[r * PER_ROOM + i]!.id]);
      pairs.push([room, users[FANOUT_SUBSCRIBERS + r]!.id]);
    });
    for (let r = 1; r < USER_ROOMS - 1; r++) pairs.push([small[r]!, owner.id]);
    await addMembers(db.sql, pairs);
    await db.sql`vacuum (analyze) roomkit.room_members`;
    const [userRooms] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from roomkit.room_members where user_id = ${owner.id} and left_at is null`;
    const [bigCount] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from roomkit.room_members where room_id = ${big!} and left_at is null`;
    const tokens = await Promise.all(
      users.slice(0, FANOUT_SUBSCRIBERS + ROOMS).map((u) => userToken(stack.keys, stack.apiUrl, u)),
    );
    const ownerToken = tokens[0]!;
    const buildSeconds = round1((performance.now() - t0) / 1000);
    console.log(
      `data built in ${buildSeconds} s (user in ${userRooms?.n} rooms, big room ${bigCount?.n} members)`,
    );
    const url = realtimeUrl(stack.apiUrl, stack.keys.anonKey);

    const stackShape = async (
      rooms: string[],
      perRoom: number,
      subscriberOf: (r: number, i: number) => number,
    ) => {
      const subscribers: WebSocket[][] = [];
      const senders: WebSocket[] = [];
      for (let r = 0; r < rooms.length; r++) {
        const topic = roomLiveTopic(rooms[r]!, 1);
        const group = await Promise.all(
          Array.from({ length: perRoom }, async (_, i) => {
            const ws = await openSocket(url);
            await joinChannel(ws, topic, tokens[subscriberOf(r, i)]!, "1");
            return ws;
          }),
        );
        subscribers.push(group);
        const sender = await openSocket(url);
        await joinChannel(sender, topic, tokens[FANOUT_SUBSCRIBERS + r]!, "1");
        senders.push(sender);
      }
      const refs = rooms.map(() => 2);
      const shape: Shape = {
        subscribers,
        senders,
        send: (r, seq) =>
          senders[r]!.send(
            broadcastFrame("1", String(refs[r]!++), roomLiveTopic(rooms[r]!, 1), "bench", {
              text: PAYLOAD_TEXT,
              m: `${MARK}${seq}`,
            }),
          ),
      };
      open.push(shape);
      return shape;
    };

    // 1. One room, 1,000 subscribers.
    console.log("fan-out to 1,000…");
    let shape = await bareShape(relay.url, 1, FANOUT_SUBSCRIBERS);
    open.push(shape);
    const bareFanout = await fanoutRun(shape, FANOUT_MESSAGES, FANOUT_INTERVAL_MS, FANOUT_WARMUP);
    closeShape(shape);
    shape = await stackShape([big!], FANOUT_SUBSCRIBERS, (_, i) => i);
    const stackFanout = await fanoutRun(shape, FANOUT_MESSAGES, FANOUT_INTERVAL_MS, FANOUT_WARMUP);
    closeShape(shape);

    // 2. 100 rooms × 10.
    console.log("100 rooms × 10…");
    shape = await bareShape(relay.url, ROOMS, PER_ROOM);
    open.push(shape);
    const bareRooms = await roomsRun(shape, ROOMS, ROOMS_SECONDS, ROOMS_WARMUP_SECONDS);
    closeShape(shape);
    shape = await stackShape(small, PER_ROOM, (r, i) => r * PER_ROOM + i);
    const stackRooms = await roomsRun(shape, ROOMS, ROOMS_SECONDS, ROOMS_WARMUP_SECONDS);
    closeShape(shape);

    // 3. Channel join: private topic of the big room vs a public channel, alternated on one socket.
    console.log("channel joins…");
    const ws = await openSocket(url);
    const privateJoins: number[] = [];
    const publicJoins: number[] = [];
    // The same probe with a trivial policy (`topic = 'coworking:lobby'`): what the probe costs
    // apart from Roomkit's membership check.
    const lobbyJoins: number[] = [];
    const privateTopic = roomTopic(big!, 1);
    const publicTopic = "bench:public";
    let ref = 1;
    for (let i = 0; i < JOIN_RUNS; i++) {
      const p = String(ref++);
      const ms = await joinChannel(ws, privateTopic, ownerToken, p);
      await leaveChannel(ws, privateTopic, p, String(ref++));
      const q = String(ref++);
      const msPublic = await joinChannel(ws, publicTopic, ownerToken, q, { private: false });
      await leaveChannel(ws, publicTopic, q, String(ref++));
      const l = String(ref++);
      const msLobby = await joinChannel(ws, "coworking:lobby", ownerToken, l);
      await leaveChannel(ws, "coworking:lobby", l, String(ref++));
      if (i >= 5) {
        privateJoins.push(ms);
        publicJoins.push(msPublic);
        lobbyJoins.push(msLobby);
      }
    }
    ws.terminate();
    // The read probe as Realtime runs it, inside Postgres.
    const plan = await db.sql.begin(async (tx) => {
      await tx`set local role authenticated`;
      await tx`select set_config('realtime.topic', ${privateTopic}, true),
                      set_config('request.jwt.claims', ${JSON.stringify({ sub: owner.id, role: "authenticated", session_id: owner.sessionId })}, true)`;
      // The second run: the first pays for planning the helper's SQL in a new session.
      const explain = `explain (analyze, buffers) select roomkit_private.can_use_room_topic('${privateTopic}', false)`;
      await tx.unsafe(explain);
      const rows = await tx.unsafe<{ "QUERY PLAN": string }[]>(explain);
      return rows.map((r) => r["QUERY PLAN"]);
    });

    const complete = (rec: Recorder, expected: number) => rec.latencies.length === expected;
    const fanoutExpected = (FANOUT_MESSAGES - FANOUT_WARMUP) * FANOUT_SUBSCRIBERS;
    const roomsExpected = (ROOMS_SECONDS - ROOMS_WARMUP_SECONDS) * ROOMS * PER_ROOM;
    const checks = {
      bare_fanout: complete(bareFanout, fanoutExpected),
      stack_fanout: complete(stackFanout, fanoutExpected),
      bare_rooms: complete(bareRooms, roomsExpected),
      stack_rooms: complete(stackRooms, roomsExpected),
    };
    const s = {
      bare_fanout: stats(bareFanout.latencies),
      stack_fanout: stats(stackFanout.latencies),
      bare_rooms: stats(bareRooms.latencies),
      stack_rooms: stats(stackRooms.latencies),
    } satisfies Record<string, Stats>;
    const joins = {
      private: stats(privateJoins),
      public: stats(publicJoins),
      private_lobby: stats(lobbyJoins),
    };
    const fanoutRatio = ratio(s.stack_fanout.p99, s.bare_fanout.p99);
    const roomsRatio = ratio(s.stack_rooms.p99, s.bare_rooms.p99);
    const joinRatio = ratio(joins.private.p50, joins.public.p50);
    const sizesReached = userRooms?.n === USER_ROOMS && bigCount?.n === BIG_ROOM_MEMBERS;
    console.table({
      ...s,
      join_private: joins.private,
      join_public: joins.public,
      join_lobby: joins.private_lobby,
    });
    console.log({ fanoutRatio, roomsRatio, joinRatio, checks, sizesReached });

    await writeResult("fanout", {
      benchmark: "fanout",
      date: new Date().toISOString(),
      node: process.version,
      setup: {
        fanout: {
          subscribers: FANOUT_SUBSCRIBERS,
          messages: FANOUT_MESSAGES,
          warmup: FANOUT_WARMUP,
          interval_ms: FANOUT_INTERVAL_MS,
        },
        rooms: {
          rooms: ROOMS,
          per_room: PER_ROOM,
          seconds: ROOMS_SECONDS,
          warmup_seconds: ROOMS_WARMUP_SECONDS,
        },
        join: { runs: JOIN_RUNS, warmup: 5, room_members: bigCount?.n, user_rooms: userRooms?.n },
        build_seconds: buildSeconds,
      },
      latency_ms: s,
      deliveries_complete: checks,
      join_ms: joins,
      ratios: {
        fanout_1000_p99: fanoutRatio,
        rooms_100x10_p99: roomsRatio,
        join_private_over_public_p50: joinRatio,
        join_lobby_over_public_p50: ratio(joins.private_lobby.p50, joins.public.p50),
        join_private_over_lobby_p50: ratio(joins.private.p50, joins.private_lobby.p50),
      },
      can_use_room_topic_explain: plan,
    });
    const allDelivered = Object.values(checks).every(Boolean);
    await mergeSummary([
      {
        id: "fanout_1000_p99_over_bare",
        value: fanoutRatio,
        unit: "x",
        baseline: 1,
        target: FANOUT_TARGET,
        met: checks.stack_fanout && fanoutRatio <= FANOUT_TARGET,
      },
      {
        id: "rooms_100x10_p99_over_bare",
        value: roomsRatio,
        unit: "x",
        baseline: 1,
        target: FANOUT_TARGET,
        met: checks.stack_rooms && roomsRatio <= FANOUT_TARGET,
      },
      {
        id: "channel_join_auth_ms",
        value: joins.private.p50,
        unit: "ms",
        baseline: joins.public.p50,
        target: round1(JOIN_TARGET * joins.public.p50),
        met: sizesReached && joinRatio <= JOIN_TARGET,
      },
    ]);
    if (!allDelivered || !sizesReached) process.exitCode = 1;
  } finally {
    for (const shape of open) closeShape(shape);
    await relay.close();
    await stack.close();
    await db.stop();
  }
}

await main();
