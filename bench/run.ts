/**
 * Runs every benchmark in `bench/`, one after another (`npm run bench`, or
 * `npm run bench -- start realtime` for some of them).
 *
 * Convention: a benchmark is any `bench/*.ts` except this file and files whose name starts with
 * `_`. Each one is a standalone script (`npx tsx bench/<name>.ts`) that starts what it needs on
 * free ports, prints its own table, writes `bench/results/<name>.json` (a baseline measured in
 * the same run next to the numbers, and the ratios), cleans up, and exits non-zero if it could
 * not measure. They run as separate processes so one bench's memory, ports and children never
 * colour the next one's numbers.
 */
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const TSX = join(BENCH_DIR, "..", "node_modules", ".bin", "tsx");

async function benches(only: string[]): Promise<string[]> {
  const names = (await readdir(BENCH_DIR))
    .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
    .map((f) => f.slice(0, -3))
    .sort();
  return only.length === 0 ? names : names.filter((n) => only.includes(n));
}

function runOne(name: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(TSX, [join(BENCH_DIR, `${name}.ts`)], { stdio: "inherit" });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const selected = await benches(process.argv.slice(2));
const summary: { bench: string; exit: number; seconds: number }[] = [];
for (const name of selected) {
  console.log(`\n=== bench/${name}.ts ===`);
  const started = performance.now();
  const exit = await runOne(name);
  summary.push({ bench: name, exit, seconds: Math.round((performance.now() - started) / 100) / 10 });
}
console.log("\n=== summary ===");
console.table(summary);
process.exit(summary.some((s) => s.exit !== 0) ? 1 : 0);
