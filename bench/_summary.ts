/**
 * `bench/results/summary.json`: one line per tracked figure across all benches, so a reader sees
 * every target and whether it is met without opening each bench's own results file.
 * Not a bench itself (the `_` prefix keeps bench/run.ts from running it).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** One tracked figure. */
export interface SummaryEntry {
  /** Stable name, e.g. `member_unfiltered_select_ms`; a later run replaces the entry with the same id. */
  id: string;
  value: number;
  /** Unit of `value`, `baseline` and `target`: `ms`, `x` (a ratio) … */
  unit: string;
  /** The reference figure measured in the same run, in `unit` (1 for a ratio to that reference). */
  baseline: number;
  target: number;
  met: boolean;
}

/** The whole file: the machine and date of the last run that wrote to it, and every entry. */
export interface Summary {
  date: string;
  machine: { cores: number; memory: string };
  results: SummaryEntry[];
}

/** Where benches write the summary by default. */
export const SUMMARY_FILE = join(dirname(fileURLToPath(import.meta.url)), "results", "summary.json");

/** This machine: logical cores and total memory (`"23.5 GiB"`). */
export function machine(): Summary["machine"] {
  return { cores: cpus().length, memory: `${Math.round((totalmem() / 2 ** 30) * 10) / 10} GiB` };
}

/**
 * Reads the summary (if any), replaces the entries whose ids are in `entries` (others are kept,
 * new ones appended), stamps date and machine, and writes it back (through a temp file, so a
 * crash never leaves half a file).
 *
 * @example
 * await mergeSummary([{ id: "start_warm_ms", value: 900, unit: "ms", baseline: 300, target: 3000, met: true }]);
 */
export async function mergeSummary(entries: SummaryEntry[], file = SUMMARY_FILE): Promise<Summary> {
  let results: SummaryEntry[] = [];
  if (existsSync(file)) {
    const previous = JSON.parse(await readFile(file, "utf8")) as Partial<Summary>;
    results = Array.isArray(previous.results) ? previous.results : [];
  }
  const replaced = new Map(entries.map((e) => [e.id, e]));
  const merged = results.map((r) => replaced.get(r.id) ?? r);
  for (const e of entries) if (!results.some((r) => r.id === e.id)) merged.push(e);
  const summary: Summary = { date: new Date().toISOString(), machine: machine(), results: merged };
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify(summary, null, 2)}\n`);
  await rename(tmp, file);
  return summary;
}
