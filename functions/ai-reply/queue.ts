/**
 * The AI reply queue in Postgres (`roomkit_private.ai_jobs`, migration `…_ai.sql`), seen from a worker.
 * Every call runs as `service_role`, the only role allowed to execute these functions: the worker
 * acts as the system, not as any user.
 */
import { z } from "zod";
import { messageKind } from "../_shared/contract.ts";
import { asService } from "../_shared/db.ts";

const id = z.string().uuid();

/** A claimed job with the context the reply needs (shape of `roomkit_private.claim_ai_job()`). */
export const claimedJob = z.object({
  job_id: z.coerce.number().int(),
  reply_id: id,
  attempt: z.number().int(),
  max_attempts: z.number().int(),
  lease_expires_at: z.string(),
  room: z.object({ id, name: z.string(), description: z.string().nullable() }),
  trigger_message_id: id,
  participants: z.array(z.object({ id, display_name: z.string(), is_ai: z.boolean() })),
  messages: z.array(
    z.object({
      id,
      sender_id: id.nullable(),
      sender_name: z.string().nullable(),
      kind: messageKind,
      body: z.string().nullable(),
      created_at: z.string(),
    }),
  ),
});
export type ClaimedJob = z.infer<typeof claimedJob>;

/**
 * Claims the next ready job (null when none is ready or every ready room already has a reply running).
 *
 * @example
 * const job = await claimJob();
 * if (job) console.log(job.room.name, job.reply_id);
 */
export async function claimJob(): Promise<ClaimedJob | null> {
  const [row] = await asService((tx) => tx<{ job: unknown }[]>`select roomkit_private.claim_ai_job() as job`);
  if (!row?.job) return null;
  return claimedJob.parse(row.job);
}

/** Extends the lease of a running attempt; false when it was lost (stop, write nothing). */
export async function extendLease(job: ClaimedJob): Promise<boolean> {
  const [row] = await asService(
    (tx) =>
      tx<{ ok: boolean }[]>`select roomkit_private.extend_ai_lease(${job.job_id}, ${job.reply_id}) as ok`,
  );
  return row?.ok === true;
}

/**
 * Persists the reply as ONE `ai` message and records usage; returns its id, or null when this
 * attempt had lost its lease (someone else owns the job now).
 */
export async function completeJob(
  job: ClaimedJob,
  body: string,
  usage: { prompt_tokens: number; completion_tokens: number },
  metadata: Record<string, unknown>,
): Promise<string | null> {
  const [row] = await asService(
    (tx) => tx<{ id: string | null }[]>`
      select roomkit_private.complete_ai_job(${job.job_id}, ${job.reply_id}, ${body}, ${usage.prompt_tokens},
                                     ${usage.completion_tokens}, ${tx.json(metadata as never)}) as id`,
  );
  return row?.id ?? null;
}

/** Outcome of a failed attempt: retried later, given up (room told), or no longer ours. */
export type FailOutcome = "queued" | "failed" | "lost";

/** Records a failed attempt (retry with backoff, or give up with one system message). */
export async function failJob(
  job: ClaimedJob,
  error: string,
  retryable: boolean,
  notice?: string,
): Promise<FailOutcome> {
  const [row] = await asService(
    (tx) => tx<{ outcome: FailOutcome }[]>`
      select roomkit_private.fail_ai_job(${job.job_id}, ${job.reply_id}, ${error}, ${retryable}, ${notice ?? null}) as outcome`,
  );
  return row?.outcome ?? "lost";
}

/**
 * Ends the job without a reply or retry, posting `notice` as a system message unless the room got
 * one with the same `event` within `quietSeconds`.
 */
export async function skipJob(
  job: ClaimedJob,
  reason: string,
  event: string,
  notice: string,
  quietSeconds: number,
): Promise<boolean> {
  const [row] = await asService(
    (tx) => tx<{ ok: boolean }[]>`
      select roomkit_private.skip_ai_job(${job.job_id}, ${job.reply_id}, ${reason}, ${event}, ${notice},
                                 now() - make_interval(secs => ${quietSeconds})) as ok`,
  );
  return row?.ok === true;
}

/** When a retry or an expired lease makes a job claimable next (null: nothing pending). */
export async function nextJobAt(): Promise<Date | null> {
  const [row] = await asService(
    (tx) => tx<{ at: Date | null }[]>`select roomkit_private.next_ai_job_at() as at`,
  );
  return row?.at ?? null;
}

/** How long a room's topic is reused before it is read again (well under the 5 s a removal may take to bite). */
const TOPIC_TTL_MS = 1000;

/**
 * The room's current events topic (`roomkit_private.room_topic`), read at most every
 * {@link TOPIC_TTL_MS}: the epoch in it moves on when a membership ends. A deleted room keeps the
 * last topic it had.
 */
export function currentRoomTopic(roomId: string): () => Promise<string> {
  let cached: { topic: string; at: number } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < TOPIC_TTL_MS) return cached.topic;
    const [row] = await asService(
      (tx) => tx<{ topic: string | null }[]>`select roomkit_private.room_topic(${roomId}) as topic`,
    );
    cached = { topic: row?.topic ?? cached?.topic ?? "", at: Date.now() };
    return cached.topic;
  };
}
