/**
 * Background jobs the stack runs next to its surfaces: what hosted Supabase does on a schedule
 * or on a database event (Database Webhooks, pg_cron), which the local stack has no service for.
 * Each job is one file here exporting a `start…(ctx)` that returns something with `close()`;
 * add a new job to `JOBS` below.
 */
import type { StackContext } from "../surface.ts";
import { startAiDispatcher } from "./ai-dispatch.ts";
import { startScheduledFunction } from "./scheduled-function.ts";

/** A running background job. */
export interface Job {
  close(): Promise<void>;
}

/** Every job, started in this order once the surfaces serve; closed in reverse. */
const JOBS: readonly ((ctx: StackContext) => Promise<Job | undefined>)[] = [
  // Roomkit's AI queue: pushed to the `ai-reply` function as a Database Webhook would. Needs functions.
  (ctx) =>
    ctx.options.functions === false
      ? Promise.resolve(undefined)
      : startAiDispatcher({
          dbUrl: ctx.dbUrl,
          apiUrl: ctx.apiUrl,
          serviceRoleKey: ctx.keys.serviceRoleKey,
          log: ctx.log,
        }),
  // Roomkit's `sweep` function on a timer and on NOTIFY, as pg_cron and a Database Webhook do in production.
  (ctx) =>
    ctx.options.functions === false
      ? Promise.resolve(undefined)
      : startScheduledFunction({
          name: "sweep",
          channel: "roomkit_sweep",
          dbUrl: ctx.dbUrl,
          apiUrl: ctx.apiUrl,
          serviceRoleKey: ctx.keys.serviceRoleKey,
          log: ctx.log,
          intervalMs: ctx.options.sweepIntervalMs,
        }),
  // Roomkit's `notify` function (pushes and mails) likewise: on NOTIFY roomkit_notify and on a timer for delayed ones.
  (ctx) =>
    ctx.options.functions === false
      ? Promise.resolve(undefined)
      : startScheduledFunction({
          name: "notify",
          channel: "roomkit_notify",
          dbUrl: ctx.dbUrl,
          apiUrl: ctx.apiUrl,
          serviceRoleKey: ctx.keys.serviceRoleKey,
          log: ctx.log,
          intervalMs: ctx.options.notifyIntervalMs,
        }),
];

/**
 * Starts every background job.
 *
 * @example
 * const jobs = await startJobs(ctx);
 * await jobs.close();
 */
export async function startJobs(ctx: StackContext): Promise<Job> {
  const running: Job[] = [];
  for (const start of JOBS) {
    const job = await start(ctx);
    if (job) running.push(job);
  }
  return {
    async close() {
      for (const job of running.reverse()) await job.close().catch(() => {});
    },
  };
}
