import { defineConfig } from "vitest/config";
import LongFirstSequencer from "./test/support/sequencer.ts";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    pool: "forks",
    // Three on two cores: the suites spend much of their time waiting (a browser, Deno, timeouts,
    // token lifetimes), so a third file keeps the cores busy (measured: 106 s against 135 s with two).
    maxWorkers: 3,
    // Each worker runs file after file in one process, importing supabase-js, postgres and the
    // stack once instead of once per file: about a quarter of the suites' CPU time. Files keep to
    // themselves: every stack, database and client is their own, and these undo what a test stubs.
    isolate: false,
    unstubGlobals: true,
    unstubEnvs: true,
    restoreMocks: true,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Files and the tests in them in random order (a new seed each run; `--sequence.seed=<n>`
    // repeats one), except that the longest files start first (see the sequencer).
    sequence: { shuffle: true, seed: Date.now(), sequencer: LongFirstSequencer },
  },
});
