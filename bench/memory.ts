/**
 * Memory of the stack as `npm start` runs it (`roomkit-stack start` in its own process tree:
 * node, PostgreSQL, Deno), with 1,000 open Realtime sockets on 100 private channels (100 rooms ×
 * 10 members, one socket per member, each joined to its room's `:live` topic).
 *   stack_rss_1000_sockets_mb: resident memory of the tree with the sockets open; baseline: the same
 *   stack idle, measured just before. Target ≤ 600 MB.
 * The sockets are opened from this process, so their client side is not counted.
 * Writes bench/results/memory.json and the summary entry.
 *
 * Run: `npx tsx bench/memory.ts` (or `npm run bench -- memory`).
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import type { WebSocket } from "ws";
import { roomLiveTopic } from "../functions/_shared/contract.ts";
import type { StackKeys } from "../packages/stack/src/keys.ts";
import { mergeSummary } from "./_summary.ts";
import {
  addMembers,
  createRooms,
  createUsers,
  joinChannel,
  openSocket,
  ROOT,
  ratio,
  realtimeUrl,
  sleep,
  spawnStackCli,
  treeRss,
  userToken,
  writeResult,
} from "./_support.ts";

const ROOMS = 100;
const PER_ROOM = 10;
const READY_TIMEOUT_MS = 120_000;
/** Let start-up garbage settle before reading memory. */
const SETTLE_MS = 3000;
const TARGET_MB = 600;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "roomkit-bench-memory-"));
  const cli = await spawnStackCli(dir, {
    // The project's Deno cache, so a fresh state directory does not download the functions' packages.
    ROOMKIT_DENO_DIR: process.env.ROOMKIT_DENO_DIR ?? join(ROOT, ".roomkit", "deno"),
  });
  const { child } = cli;
  const sockets: WebSocket[] = [];
  let sql: postgres.Sql | undefined;
  try {
    const statusFile = join(dir, "status.json");
    const started = performance.now();
    type Status = { apiUrl: string; dbUrl: string; keys: StackKeys };
    let status: Status | undefined;
    while (!status) {
      if (child.exitCode !== null) throw new Error(`the stack exited early: ${cli.stderr().trim()}`);
      if (performance.now() - started > READY_TIMEOUT_MS) throw new Error("the stack was not ready in time");
      if (existsSync(statusFile)) {
        try {
          const s = JSON.parse(await readFile(statusFile, "utf8")) as Status;
          const res = await fetch(`${s.apiUrl}/auth/v1/health`, { headers: { apikey: s.keys.anonKey } });
          if (res.status === 200) status = s;
        } catch {}
      }
      if (!status) await sleep(50);
    }
    const stack = status;
    sql = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
    const users = await createUsers(sql, "memory", ROOMS * PER_ROOM);
    const rooms = await createRooms(sql, users[0]!, ROOMS);
    await addMembers(
      sql,
      users.map((u, i) => [rooms[Math.floor(i / PER_ROOM)]!, u.id]),
    );
    const tokens = await Promise.all(users.map((u) => userToken(stack.keys, stack.apiUrl, u)));
    await sleep(SETTLE_MS);
    const idle = await treeRss(child.pid!);
    const idleMb = idle.totalMb;

    const url = realtimeUrl(stack.apiUrl, stack.keys.anonKey);
    for (let r = 0; r < ROOMS; r++) {
      const group = await Promise.all(
        Array.from({ length: PER_ROOM }, async (_, i) => {
          const ws = await openSocket(url);
          await joinChannel(ws, roomLiveTopic(rooms[r]!, 1), tokens[r * PER_ROOM + i]!, "1");
          return ws;
        }),
      );
      sockets.push(...group);
    }
    await sleep(SETTLE_MS);
    const withSockets = await treeRss(child.pid!);
    const openMb = withSockets.totalMb;
    const open = sockets.filter((s) => s.readyState === s.OPEN).length;
    const reached = open === ROOMS * PER_ROOM;
    const result = {
      benchmark: "memory",
      date: new Date().toISOString(),
      node: process.version,
      setup: { sockets: ROOMS * PER_ROOM, channels: ROOMS, settle_ms: SETTLE_MS },
      idle_rss_mb: idleMb,
      sockets_rss_mb: openMb,
      sockets_open: open,
      per_socket_kb: Math.round(((openMb - idleMb) * 1024) / (ROOMS * PER_ROOM)),
      ratio_over_idle: ratio(openMb, idleMb),
      rss_by_command_mb: { idle: idle.byCommand, sockets: withSockets.byCommand },
      // Proportional set size: shared pages (PostgreSQL's shared buffers) counted once.
      idle_pss_mb: idle.pssMb,
      sockets_pss_mb: withSockets.pssMb,
      pss_by_command_mb: { idle: idle.pssByCommand, sockets: withSockets.pssByCommand },
      postgres_processes: { idle: idle.processes.postgres, sockets: withSockets.processes.postgres },
    };
    console.log(result);
    await writeResult("memory", result);
    await mergeSummary([
      {
        id: "stack_rss_1000_sockets_mb",
        value: openMb,
        unit: "MB",
        baseline: idleMb,
        target: TARGET_MB,
        met: reached && openMb <= TARGET_MB,
      },
    ]);
    if (!reached) process.exitCode = 1;
  } finally {
    for (const s of sockets) s.terminate();
    await sql?.end();
    if (child.exitCode === null) {
      process.kill(-child.pid!, "SIGINT");
      await new Promise((r) => child.once("exit", r));
    }
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
