import postgres from "postgres";

/**
 * The local stand-in for the production schedule of the `sweep` function (pg_cron + pg_net, see
 * the README): POSTs `/functions/v1/sweep` with the service role key every `intervalMs`, and soon
 * after the database NOTIFYs `roomkit_sweep` (a coworking membership ended: voice is owed to
 * LiveKit). Calls never overlap; a call asked for while one runs happens once after it.
 */

/** The NOTIFY channel of the voice migration's eviction trigger. */
export const SWEEP_CHANNEL = "roomkit_sweep";
const SWEEP_PATH = "/functions/v1/sweep";
/** A sweep that never answers must not block the next one forever (ms). */
const SWEEP_TIMEOUT_MS = 60_000;

export interface SweeperOptions {
  dbUrl: string;
  apiUrl: string;
  serviceRoleKey: string;
  log(source: string, line: string): void;
  /** Interval of the scheduled sweep (ms). Default 10 000, as the production cron. */
  intervalMs?: number;
}

export interface Sweeper {
  /** Sweeps now (or right after the running sweep); resolves when that sweep has finished. */
  kick(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the sweeper. It fails soft: without the migrations or the function it logs and goes on.
 *
 * @example
 * const sweeper = await startSweeper({ dbUrl, apiUrl, serviceRoleKey: keys.serviceRoleKey, log });
 */
export async function startSweeper(options: SweeperOptions): Promise<Sweeper> {
  const log = (line: string) => options.log("sweep", line);
  const sql = postgres(options.dbUrl, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: "roomkit-sweep" },
  });
  const inFlight = new AbortController();
  let closed = false;
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;

  const sweepOnce = async (): Promise<void> => {
    try {
      const res = await fetch(`${options.apiUrl}${SWEEP_PATH}`, {
        method: "POST",
        headers: { apikey: options.serviceRoleKey, authorization: `Bearer ${options.serviceRoleKey}` },
        signal: AbortSignal.any([inFlight.signal, AbortSignal.timeout(SWEEP_TIMEOUT_MS)]),
      });
      const text = await res.text();
      if (!res.ok) log(`sweep answered ${res.status}: ${text.slice(0, 300)}`);
    } catch (error) {
      if (!closed) log(`sweep call failed: ${(error as Error).message}`);
    }
  };

  const kick = (): Promise<void> => {
    if (closed) return Promise.resolve();
    if (!running) {
      running = sweepOnce().finally(() => {
        running = undefined;
      });
      return running;
    }
    queued ??= running.then(() => {
      queued = undefined;
      return kick();
    });
    return queued;
  };

  const timer = setInterval(() => void kick(), options.intervalMs ?? 10_000);
  try {
    await sql.listen(SWEEP_CHANNEL, () => void kick());
  } catch (error) {
    log(`cannot LISTEN ${SWEEP_CHANNEL} (is the voice migration applied?): ${(error as Error).message}`);
  }

  return {
    kick,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      inFlight.abort();
      await running?.catch(() => {});
      await sql.end({ timeout: 1 });
    },
  };
}
