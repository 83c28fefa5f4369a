/**
 * `POST /functions/v1/ai-reply` — the AI participant's worker. It acts as the SYSTEM: only the
 * service role may call it (a Database Webhook, pg_cron + pg_net, or the local stack's
 * dispatcher), and it reads and writes with the service role, never as a user.
 *
 * It drains `roomkit_private.ai_jobs`: claims a job (one running reply per room), builds the prompt from
 * the room's last messages, streams the provider's answer to the room's private topic as
 * `ai.typing` → `ai.delta`… → `ai.done` (or `ai.error`), and persists ONE `ai` message, whose
 * insert trigger broadcasts `message.insert`. Without a provider configured, the room gets one
 * clear system message instead of silence.
 *
 * Body (optional, any extra fields such as a webhook's are ignored): `{ "max_jobs"?: 1..1000 }`.
 * Query: `?background=true` answers 202 at once and drains in `EdgeRuntime.waitUntil` (for callers
 * with short timeouts, like pg_net). Answer: `200 {"processed": n}`.
 */
import { z } from "zod";
import {
  type AiConfigResult,
  AiProviderError,
  loadAiConfig,
  streamChat,
  type TokenUsage,
} from "../_shared/ai.ts";
import { requireServiceRole } from "../_shared/auth.ts";
import { AI_EVENTS } from "../_shared/contract.ts";
import { loadEnv, supabaseEnv } from "../_shared/env.ts";
import { createHandler, json, route } from "../_shared/http.ts";
import { RoomBroadcaster } from "./broadcast.ts";
import { buildPrompt } from "./prompt.ts";
import {
  type ClaimedJob,
  claimJob,
  completeJob,
  currentRoomTopic,
  extendLease,
  failJob,
  nextJobAt,
  skipJob,
} from "./queue.ts";

declare const EdgeRuntime: { waitUntil(promise: Promise<unknown>): void } | undefined;

/** Replies streamed at once by one invocation (different rooms; one room is always one at a time). */
const CONCURRENCY = 4;
/** Every reply must be over by then: hosted functions answer 504 after 150 s without a response (reference §3.7). */
const INVOCATION_BUDGET_MS = 140_000;
/** Claiming continues at least this long even with a long provider timeout. */
const MIN_CLAIM_WINDOW_MS = 10_000;
/** A retry due within this long is waited for in the same invocation rather than left to the next sweep. */
const RETRY_WAIT_MAX_MS = 15_000;
const DEFAULT_MAX_JOBS = 50;
/** "No provider" is said once per room per this many seconds, however many messages ask. */
const UNAVAILABLE_NOTICE_QUIET_SECONDS = 600;

const UNAVAILABLE_NOTICE =
  "Roomkit AI is not set up on this server, so it cannot reply. An administrator needs to set AI_BASE_URL, AI_API_KEY and AI_MODEL for the ai-reply function.";

/** The key the worker broadcasts with: Realtime's HTTP API needs a JWT, so the legacy key first. */
function serviceKey(): { url: string; key: string } {
  const env = loadEnv(supabaseEnv);
  let key = env.SUPABASE_SERVICE_ROLE_KEY;
  if (!key && env.SUPABASE_SECRET_KEYS) {
    const keys = JSON.parse(env.SUPABASE_SECRET_KEYS) as Record<string, string>;
    key = keys.default ?? Object.values(keys)[0];
  }
  if (!key) throw new Error("SUPABASE_SERVICE_ROLE_KEY is not set: ai-reply cannot broadcast");
  return { url: env.SUPABASE_URL, key };
}

class LeaseLostError extends Error {
  constructor() {
    super("This reply's lease was lost: another worker owns the job now");
    this.name = "LeaseLostError";
  }
}

/** Renews the lease at a third of its length while a reply streams; aborts when it is lost. */
function keepLease(job: ClaimedJob, abort: AbortController): () => void {
  const leaseMs = new Date(job.lease_expires_at).getTime() - Date.now();
  const timer = setInterval(
    () => {
      extendLease(job)
        .then((ok) => {
          if (!ok) abort.abort(new LeaseLostError());
        })
        .catch((error) => console.warn(`lease renewal failed for job ${job.job_id}: ${error}`));
    },
    Math.max(500, leaseMs / 3),
  );
  return () => clearInterval(timer);
}

/** Handles one claimed job to its end: a reply, a retry, a give-up notice, or a skip. */
async function processJob(job: ClaimedJob, ai: AiConfigResult): Promise<void> {
  if (!ai.ok) {
    console.warn(`no AI provider (${ai.message}); room ${job.room.id} gets a notice`);
    await skipJob(
      job,
      `provider_${ai.reason}`,
      "ai_unavailable",
      UNAVAILABLE_NOTICE,
      UNAVAILABLE_NOTICE_QUIET_SECONDS,
    );
    return;
  }
  const { url, key } = serviceKey();
  const live = new RoomBroadcaster({ url, key, topic: currentRoomTopic(job.room.id) });
  const replyId = job.reply_id;
  live.send(AI_EVENTS.typing, { reply_id: replyId, attempt: job.attempt });
  const abort = new AbortController();
  const stopLease = keepLease(job, abort);
  let text = "";
  try {
    let usage: TokenUsage | undefined;
    let model: string | null = null;
    for await (const item of streamChat(ai.config, buildPrompt(job), { signal: abort.signal })) {
      if (item.type === "delta") {
        text += item.text;
        live.delta(replyId, item.text);
      } else {
        usage = item.usage;
        model = item.model;
      }
    }
    if (text.trim() === "")
      throw new AiProviderError("The AI provider sent an empty reply", "empty_reply", true);
    const tokens = usage ?? { prompt_tokens: 0, completion_tokens: 0, estimated: true };
    const messageId = await completeJob(job, text, tokens, {
      model: model ?? ai.config.AI_MODEL,
      usage: tokens,
      attempt: job.attempt,
    });
    if (messageId === null) throw new LeaseLostError();
    await live.flush();
    live.send(AI_EVENTS.done, { reply_id: replyId, message_id: messageId });
    console.log(
      `job ${job.job_id}: replied in room ${job.room.id} (${text.length} chars, attempt ${job.attempt})`,
    );
  } catch (error) {
    const lost = error instanceof LeaseLostError || abort.signal.reason instanceof LeaseLostError;
    let retrying = true;
    if (!lost) {
      const providerError = error instanceof AiProviderError ? error : undefined;
      if (!providerError) console.error(`job ${job.job_id} failed:`, error);
      const code = providerError?.code ?? "internal_error";
      const reason = `${code}: ${(error as Error).message ?? String(error)}`;
      const notice =
        providerError && !providerError.retryable
          ? `Roomkit AI could not reply: the AI provider refused the request (${code}). An administrator should check the AI settings.`
          : undefined;
      const outcome = await failJob(job, reason, providerError?.retryable ?? true, notice);
      retrying = outcome !== "failed";
      console.warn(`job ${job.job_id} attempt ${job.attempt} failed (${reason}); ${outcome}`);
    }
    await live.flush();
    live.send(AI_EVENTS.error, {
      reply_id: replyId,
      code: lost ? "lease_lost" : error instanceof AiProviderError ? error.code : "internal_error",
      message: "Roomkit AI could not finish this reply",
      retrying,
    });
  } finally {
    stopLease();
    abort.abort();
    await live.flush();
  }
}

/**
 * Claims and processes jobs until none is ready (or `maxJobs`, or the time budget), waiting once
 * for a retry that is due soon. Returns how many jobs were handled.
 */
async function drain(maxJobs: number): Promise<number> {
  const ai = loadAiConfig();
  // A job claimed before this can still finish (its provider call times out) within the budget.
  const deadline =
    Date.now() +
    Math.max(MIN_CLAIM_WINDOW_MS, INVOCATION_BUDGET_MS - (ai.ok ? ai.config.AI_REQUEST_TIMEOUT_MS : 0));
  let claimed = 0;
  const worker = async (): Promise<number> => {
    let handled = 0;
    while (claimed < maxJobs && Date.now() < deadline) {
      const job = await claimJob();
      if (!job) break;
      claimed++;
      try {
        await processJob(job, ai);
      } catch (error) {
        // Nothing recorded (database unreachable?): the lease expires and the job is retried.
        console.error(`job ${job.job_id} could not be settled:`, error);
      }
      handled++;
    }
    return handled;
  };
  let processed = 0;
  for (let round = 0; ; round++) {
    const handled = (await Promise.all(Array.from({ length: CONCURRENCY }, worker))).reduce(
      (a, b) => a + b,
      0,
    );
    processed += handled;
    // After one wait that found nothing, stop: a busy room belongs to another invocation.
    if ((round > 0 && handled === 0) || claimed >= maxJobs) break;
    const next = await nextJobAt();
    if (!next) break;
    const wait = next.getTime() - Date.now();
    if (wait > RETRY_WAIT_MAX_MS || Date.now() + wait > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait) + 25));
  }
  return processed;
}

const drainBody = z.looseObject({ max_jobs: z.number().int().min(1).max(1000).optional() }).optional();
const drainQuery = z.object({ background: z.enum(["true", "false"]).optional() });

const drainRoute = route({
  method: "POST",
  path: "/",
  body: drainBody,
  query: drainQuery,
  auth: requireServiceRole,
  async run({ body, query }) {
    const maxJobs = body?.max_jobs ?? DEFAULT_MAX_JOBS;
    if (query.background === "true" && typeof EdgeRuntime !== "undefined") {
      EdgeRuntime.waitUntil(drain(maxJobs));
      return json(202, { accepted: true });
    }
    return json(200, { processed: await drain(maxJobs) });
  },
});

export const handler = createHandler("ai-reply", [drainRoute]);

if (import.meta.main) Deno.serve(handler);
