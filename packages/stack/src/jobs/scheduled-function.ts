import postgres from "postgres";

/**
 * The local stand-in for a function that production runs on a schedule (pg_cron + pg_net, see the
 * README): POSTs `/functions/v1/<name>` with the service role key every `intervalMs`, and soon
 * after the database NOTIFYs `channel` (work is waiting). Calls never overlap; a call asked for
 * while one runs happens once after it. Used for `sweep` (voice evictions, participant expiry) and
 * `notify` (pushes and mails).
 */

/** A call that never answers must not block the next one forever (ms). */
const CALL_TIMEOUT_MS = 60_000;

export interface ScheduledFunctionOptions {
  /** The function's name: `/functions/v1/<name>`. */
  name: string;
  /** The NOTIFY channel that asks for a call now. */
  channel: string;
  dbUrl: string;
  apiUrl: string;
  serviceRoleKey: string;
  log(source: string, line: string): void;
  /** Interval of the scheduled call (ms). Default 10 000, as the production cron. */
  intervalMs?: number;
}

export interface ScheduledFunction {
  /** Calls now (or right after the running call); resolves when that call has finished. */
  kick(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the schedule. It fails soft: without the migrations or the function it logs and goes on.
 *
 * @example
 * const sweeper = await startScheduledFunction({ name: "sweep", channel: "roomkit_sweep", dbUrl, apiUrl, serviceRoleKey, log });
 */
export async function startScheduledFunction(options: ScheduledFunctionOptions): Promise<ScheduledFunction> {
  const log = (line: string) => options.log(options.name, line);
  const sql = postgres(options.dbUrl, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: `roomkit-${options.name}` },
  });
  const inFlight = new AbortController();
  let closed = false;
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;

  const callOnce = async (): Promise<void> => {
    try {
      const res = await fetch(`${options.apiUrl}/functions/v1/${options.name}`, {
        method: "POST",
        headers: { apikey: options.serviceRoleKey, authorization: `Bearer ${options.serviceRoleKey}` },
        signal: AbortSignal.any([inFlight.signal, AbortSignal.timeout(CALL_TIMEOUT_MS)]),
      });
      const text = await res.text();
      if (!res.ok) log(`${options.name} answered ${res.status}: ${text.slice(0, 300)}`);
    } catch (error) {
      if (!closed) log(`${options.name} call failed: ${(error as Error).message}`);
    }
  };

  const kick = (): Promise<void> => {
    if (closed) return Promise.resolve();
    if (!running) {
      running = callOnce().finally(() => {
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
    await sql.listen(options.channel, () => void kick());
  } catch (error) {
    log(`cannot LISTEN ${options.channel} (are the migrations applied?): ${(error as Error).message}`);
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
