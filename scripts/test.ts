/**
 * `npm test`: the static checks (typecheck, which includes the README's examples, and lint) and
 * every test suite, at the same time. The suites spend much of their time waiting (a browser,
 * Deno, timeouts) and the checks fill that; they run at a lower CPU priority so the suites, the
 * long part, come first.
 * Vitest prints as it goes; each check prints its output when it ends. Exits 1 when any step
 * failed, after all have ended.
 *
 * @example
 * npm test                      # everything
 * npm test -- test/db           # the checks, and vitest on test/db only (arguments go to vitest)
 */
import { spawn } from "node:child_process";
import { setPriority } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
/** Niceness of the checks (0 is the suites'; 19 the lowest priority). */
const CHECK_NICENESS = 10;

interface Step {
  name: string;
  command: string;
  args: string[];
  /** Vitest writes straight to the terminal; checks are buffered and printed whole. */
  live: boolean;
}

const steps: Step[] = [
  { name: "vitest", command: join(BIN, "vitest"), args: ["run", ...process.argv.slice(2)], live: true },
  // The checks as package.json defines them (`npm run typecheck` is incremental: a run after a
  // change re-checks what changed, with its state in node_modules/.cache).
  { name: "typecheck", command: "npm", args: ["run", "-s", "typecheck"], live: false },
  { name: "lint", command: "npm", args: ["run", "-s", "lint"], live: false },
];

function run(step: Step): Promise<{ step: Step; ok: boolean; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(step.command, step.args, {
      cwd: ROOT,
      stdio: step.live ? "inherit" : ["ignore", "pipe", "pipe"],
    });
    if (!step.live && child.pid !== undefined) {
      try {
        setPriority(child.pid, CHECK_NICENESS);
      } catch {
        // Not allowed here: the check simply runs at normal priority.
      }
    }
    let output = "";
    child.stdout?.on("data", (d: Buffer) => {
      output += d;
    });
    child.stderr?.on("data", (d: Buffer) => {
      output += d;
    });
    let done = false;
    const finish = (ok: boolean, why = "") => {
      if (done) return;
      done = true;
      const seconds = (performance.now() - started) / 1000;
      if (!step.live && (output.trim() || !ok)) {
        process.stdout.write(`\n── ${step.name} ${ok ? "passed" : "FAILED"}${why} ──\n${output.trimEnd()}\n`);
      }
      resolve({ step, ok, seconds });
    };
    child.on("error", (error) => finish(false, `: ${error.message}`));
    child.on("close", (code, signal) =>
      finish(code === 0, code === 0 ? "" : ` (${signal ?? `exit ${code}`})`),
    );
  });
}

const results = await Promise.all(steps.map(run));
process.stdout.write(
  `\n${results.map((r) => `${r.ok ? "ok" : "FAILED"}  ${r.step.name} (${r.seconds.toFixed(1)} s)`).join("\n")}\n`,
);
process.exit(results.every((r) => r.ok) ? 0 : 1);
