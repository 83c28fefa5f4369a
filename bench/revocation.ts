/**
 * What ending a membership costs the members who stay. A departure advances the room's epoch, and
 * every remaining session rejoins the new topics and catches up from history (see README, Security).
 * Measured through the library against the local stack, 20 members in one private room:
 * - baseline: a message sent with nobody leaving, until all 19 other sessions have it;
 * - departure: a member leaves, and a message sent the moment the leave returns, until all remaining
 *   sessions have it (they must rejoin the new epoch's topics and backfill first);
 * - the requests each remaining session makes for one departure (REST calls and channel joins).
 * Standalone: `npx tsx bench/revocation.ts` (or `npm run bench -- revocation`).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { WebSocket } from "ws";
import { startStack } from "../packages/stack/src/index.ts";
import { generateKeys } from "../packages/stack/src/keys.ts";
import { prepareDatabase } from "../packages/stack/src/migrate.ts";
import { freePort } from "../packages/stack/src/net.ts";
import { startThrowawayPostgres, withDatabase } from "../packages/stack/src/postgres.ts";
import { createRoomkitClient, type RoomkitClient } from "../src/client/index.ts";
import type { RoomSession } from "../src/client/session.ts";
import { mergeSummary } from "./_summary.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const MEMBERS = 20;
const ROUNDS = 10;

interface Member {
  id: string;
  roomkit: RoomkitClient;
  /** REST requests this member's client has made so far. */
  requests: () => number;
  session?: RoomSession;
}

async function signUp(apiUrl: string, anonKey: string, name: string): Promise<Member> {
  let requests = 0;
  const supabase = createClient(apiUrl, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
    global: {
      fetch: (input, init) => {
        if (String(input).includes("/rest/v1/")) requests++;
        return fetch(input, init);
      },
    },
  });
  const { data, error } = await supabase.auth.signUp({
    email: `${name}-${randomUUID().slice(0, 8)}@example.test`,
    password: `pw-${randomUUID()}`,
    options: { data: { display_name: name } },
  });
  if (error || !data.user) throw error ?? new Error("sign-up failed");
  return { id: data.user.id, roomkit: createRoomkitClient(supabase), requests: () => requests };
}

/** Resolves when every session holds the message with this id; the time since `from`, in ms. */
function deliveredToAll(sessions: RoomSession[], messageId: string, from: number): Promise<number> {
  return new Promise((resolve) => {
    const check = () => {
      if (sessions.every((s) => s.messages.some((m) => m.id === messageId))) {
        clearInterval(timer);
        resolve(performance.now() - from);
      }
    };
    const timer = setInterval(check, 2);
    check();
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const round = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const pg = await startThrowawayPostgres("roomkit-bench-revocation-");
  const dbName = `bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  await admin.end();
  const dbUrl = withDatabase(pg.url, dbName);
  await prepareDatabase(dbUrl, { projectDir: ROOT, seed: false });
  const keys = await generateKeys();
  const stack = await startStack({ dbUrl, keys, port: await freePort(), host: "127.0.0.1", log: () => {} });
  try {
    const baseline: number[] = [];
    const departure: number[] = [];
    const restPerDeparture: number[] = [];
    for (let round_ = 0; round_ < ROUNDS; round_++) {
      const people = await Promise.all(
        Array.from({ length: MEMBERS }, (_, i) => signUp(stack.apiUrl, keys.anonKey, `m${i}`)),
      );
      const [owner, ...guests] = people as [Member, ...Member[]];
      const room = await owner.roomkit.rooms.create({ name: `Bench ${round_}` });
      if (room.error) throw room.error;
      for (const g of guests) {
        const invite = await owner.roomkit.invites.send(room.data.id, { invitee_id: g.id });
        if (invite.error) throw invite.error;
        const accepted = await g.roomkit.invites.accept(invite.data.id);
        if (accepted.error) throw accepted.error;
      }
      for (const p of people) {
        const opened = await p.roomkit.openRoom(room.data.id);
        if (opened.error) throw opened.error;
        p.session = opened.data;
      }
      const leaver = guests.at(-1)!;
      const stayers = people.filter((p) => p !== leaver && p !== owner);
      const sessions = stayers.map((p) => p.session!);

      let start = performance.now();
      const calm = await owner.roomkit.messages.send(room.data.id, "nobody leaves");
      if (calm.error) throw calm.error;
      baseline.push(await deliveredToAll(sessions, calm.data.id, start));

      const before = stayers.map((p) => p.requests());
      const left = await leaver.roomkit.rooms.leave(room.data.id);
      if (left.error) throw left.error;
      start = performance.now();
      const after = await owner.roomkit.messages.send(room.data.id, "right after a departure");
      if (after.error) throw after.error;
      departure.push(await deliveredToAll(sessions, after.data.id, start));
      await new Promise((r) => setTimeout(r, 500));
      restPerDeparture.push(median(stayers.map((p, i) => p.requests() - (before[i] ?? 0))));
      await Promise.all(people.map((p) => p.session?.close()));
    }
    const result = {
      members: MEMBERS,
      rounds: ROUNDS,
      baseline_delivery_p50_ms: round(median(baseline)),
      departure_delivery_p50_ms: round(median(departure)),
      ratio: round(median(departure) / median(baseline)),
      rest_requests_per_remaining_session: median(restPerDeparture),
      channel_joins_per_remaining_session: 2,
    };
    console.table(result);
    await mkdir(join(ROOT, "bench", "results"), { recursive: true });
    await writeFile(
      join(ROOT, "bench", "results", "revocation.json"),
      `${JSON.stringify(result, null, 2)}\n`,
    );
    await mergeSummary([
      {
        id: "departure_catchup_p50_ms",
        value: result.departure_delivery_p50_ms,
        unit: "ms",
        baseline: result.baseline_delivery_p50_ms,
        // Our own bar, not an issue's: a departure costs the others a rejoin, well under a second.
        target: 1000,
        met: result.departure_delivery_p50_ms <= 1000,
      },
    ]);
  } finally {
    await stack.close();
    await pg.stop();
  }
}

await main();
