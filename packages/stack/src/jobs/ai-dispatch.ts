import postgres from "postgres";

/**
 * The local stand-in for a Supabase Database Webhook on `roomkit_private.ai_jobs`: LISTENs on the
 * channel the queue trigger NOTIFYs (`roomkit_ai_jobs`, migration `…_ai.sql`) and POSTs
 * `/functions/v1/ai-reply` with the service role key when work appears. Calls are debounced
 * (a burst of messages is one drain) and never overlap; after each drain it sleeps until the next
 * retry or lease expiry the queue reports, and a periodic sweep catches anything else (a job left
 * by a worker that crashed, NOTIFYs missed while the connection was down).
 */

/** The NOTIFY channel of `roomkit_private.queue_ai_reply()`. */
export const AI_JOBS_CHANNEL = "roomkit_ai_jobs";
const AI_REPLY_PATH = "/functions/v1/ai-reply";

export interface AiDispatcherOptions {
  /** Database with the Roomkit migrations (superuser URL, as the stack has). */
  dbUrl: string;
  /** Gateway URL the functions are served under. */
  apiUrl: string;
  serviceRoleKey: string;
  log(source: string, line: string): void;
  /** Quiet time after a NOTIFY before draining, so a burst is one call (ms). Default 25. */
  debounceMs?: number;
  /** Interval of the safety sweep (ms). Default 5000. */
  sweepIntervalMs?: number;
}

export interface AiDispatcher {
  /** Drains now (debounced); resolves when that drain has finished. */
  kick(): Promise<void>;
  close(): Promise<void>;
}

/** A drain request that never answers still must not block the next one forever (ms). */
const DRAIN_TIMEOUT_MS = 180_000;

/**
 * Starts the dispatcher. It fails soft: a database without the AI migration just logs once.
 *
 * @example
 * const ai = await startAiDispatcher({ dbUrl, apiUrl, serviceRoleKey: keys.serviceRoleKey, log });
 * await ai.close();
 */
export async function startAiDispatcher(options: AiDispatcherOptions): Promise<AiDispatcher> {
  const debounceMs = options.debounceMs ?? 25;
  const sweepIntervalMs = options.sweepIntervalMs ?? 5000;
  const log = (line: string) => options.log("ai-dispatch", line);
  const sql = postgres(options.dbUrl, {
    max: 2,
    onnotice: () => {},
    connection: { application_name: "roomkit-ai-dispatch" },
  });
  let closed = false;
  let running: Promise<void> | undefined;
  let again = false;
  let debounce: ReturnType<typeof setTimeout> | undefined;
  let wake: ReturnType<typeof setTimeout> | undefined;
  let waiters: Array<() => void> = [];
  const inFlight = new AbortController();
  let warned = false;

  const drainOnce = async (): Promise<void> => {
    const signal = AbortSignal.any([inFlight.signal, AbortSignal.timeout(DRAIN_TIMEOUT_MS)]);
    try {
      const res = await fetch(`${options.apiUrl}${AI_REPLY_PATH}`, {
        method: "POST",
        headers: {
          apikey: options.serviceRoleKey,
          authorization: `Bearer ${options.serviceRoleKey}`,
          "content-type": "application/json",
        },
        body: "{}",
        signal,
      });
      const text = await res.text();
      if (!res.ok) log(`ai-reply answered ${res.status}: ${text.slice(0, 300)}`);
    } catch (error) {
      if (!closed) log(`ai-reply call failed: ${(error as Error).message}`);
    }
  };

  const scheduleNext = async (): Promise<void> => {
    clearTimeout(wake);
    if (closed) return;
    try {
      const [row] = await sql<{ ms: number | null }[]>`
        select extract(epoch from roomkit_private.next_ai_job_at() - clock_timestamp()) * 1000 as ms`;
      const ms = row?.ms;
      if (ms !== null && ms !== undefined && ms < sweepIntervalMs && !closed)
        wake = setTimeout(() => void trigger(), Math.max(0, ms) + 10);
    } catch (error) {
      warnOnce(error);
    }
  };

  const run = (): Promise<void> => {
    running ??= (async () => {
      do {
        again = false;
        await drainOnce();
      } while (again && !closed);
      await scheduleNext();
    })().finally(() => {
      running = undefined;
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve();
    });
    return running;
  };

  const trigger = (): Promise<void> => {
    if (closed) return Promise.resolve();
    const finished = new Promise<void>((resolve) => waiters.push(resolve));
    if (running) {
      again = true;
      return finished;
    }
    clearTimeout(debounce);
    debounce = setTimeout(() => void run(), debounceMs);
    return finished;
  };

  const warnOnce = (error: unknown) => {
    if (warned || closed) return;
    warned = true;
    log(`AI queue unavailable (is the AI migration applied?): ${(error as Error).message}`);
  };

  const hasWork = async (): Promise<boolean> => {
    const [row] = await sql<{ ready: boolean }[]>`
      select exists (
        select 1 from roomkit_private.ai_jobs j
        where (j.status = 'queued' and j.run_after <= now()) or (j.status = 'running' and j.lease_expires_at < now())
      ) as ready`;
    return row?.ready === true;
  };

  const sweep = setInterval(() => {
    if (running || closed) return;
    hasWork()
      .then((ready) => (ready ? trigger() : undefined))
      .catch(warnOnce);
  }, sweepIntervalMs);

  try {
    await sql.listen(AI_JOBS_CHANNEL, () => void trigger());
  } catch (error) {
    warnOnce(error);
  }
  // Work queued while nothing was listening (the stack was down).
  hasWork()
    .then((ready) => (ready ? trigger() : undefined))
    .catch(warnOnce);

  return {
    kick: trigger,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      clearTimeout(debounce);
      clearTimeout(wake);
      inFlight.abort();
      await running?.catch(() => {});
      for (const resolve of waiters) resolve();
      waiters = [];
      await sql.end({ timeout: 1 });
    },
  };
}
