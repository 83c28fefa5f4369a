import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Test files that take much longer than the rest, started first so that no worker is left with a
 * long file at the end while the others are idle. Those that mostly work the CPU (a browser, a
 * 200-connection race, a packed install) alternate with those that mostly wait (a token's
 * lifetime, an idle timeout, a closed tab's heartbeat): started together, the waiting ones left
 * the two cores half idle for about ten seconds.
 */
const LONG_FIRST = [
  "test/browser/app.test.ts",
  "test/functions/voice-end.test.ts",
  "test/browser/notifications.test.ts",
  "test/functions/ai-reply.test.ts",
  "test/stack/cli.test.ts",
  "test/e2e/session-lifecycle.test.ts",
  "test/db/capacity-race.test.ts",
  "test/functions/notify.test.ts",
  "test/db/hardening.test.ts",
  "test/e2e/closed-tab.test.ts",
  "test/package/pack.test.ts",
  "test/stack/robustness.test.ts",
  "test/stack/foreign-project.test.ts",
  "test/e2e/private-room.test.ts",
  "test/stack/auth.test.ts",
];

/** A seeded shuffle (mulberry32), so `--sequence.seed=<n>` repeats an order. */
function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Files in random order by the run's seed (as `sequence.shuffle` does), except the long ones,
 * which start first; tests inside every file are still shuffled by the same seed.
 */
export default class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { root, sequence } = this.ctx.config;
    // Vitest prints the seed ("Running tests with seed …").
    const seed = sequence.seed ?? Date.now();
    const rank = (file: TestSpecification) => {
      const i = LONG_FIRST.indexOf(relative(root, file.moduleId).split("\\").join("/"));
      return i < 0 ? LONG_FIRST.length : i;
    };
    return shuffled(files, seed).sort((a, b) => rank(a) - rank(b));
  }
}
