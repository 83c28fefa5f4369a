import { randomUUID } from "node:crypto";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AI_USER_ID } from "../../functions/_shared/contract.ts";
import {
  into,
  type Received,
  type RoomkitClient,
  realtimeClient,
  subscribe,
} from "../stack/realtime-support.ts";
import { as } from "../support/acting.ts";
import {
  chunkEvent,
  DONE_EVENT,
  type FakeLlm,
  type FakeResponse,
  splitBytes,
  startFakeLlm,
  streamOf,
  uniqueName,
} from "../support/fakes.ts";
import { EXTERNAL_STACK, localOnly } from "../support/stack.ts";
import { eventually } from "../support/wait.ts";
import { type FunctionsStack, startFunctionsStack, type TestUser } from "./support.ts";

/**
 * The AI participant end to end: real Postgres (queue, triggers), real Deno (`ai-reply`), the
 * local stack's dispatcher, real Realtime (members' supabase-js channels). The LLM provider is a
 * FAKE at its HTTP edge (test/support/fakes.ts): an OpenAI-compatible streaming endpoint on a
 * loopback port whose bytes each test scripts.
 */

/** Short enough that a stalled stream fails fast, long enough for the "slow but alive" stream. */
const IDLE_TIMEOUT_MS = 1000;
const WAIT_MS = 15_000;

let llm: FakeLlm;
let fx: FunctionsStack;

beforeAll(async () => {
  llm = await startFakeLlm();
  fx = await startFunctionsStack(
    localOnly({
      functionsEnv: {
        AI_BASE_URL: llm.url,
        AI_API_KEY: "test",
        AI_MODEL: "fake",
        AI_STREAM_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
      },
    }),
  );
  // Quick retries so retry tests take a fraction of a second (defaults: 5 s, 10 s …). Only the
  // local stack's own database: the tests that rely on it do not run against an external stack.
  if (!EXTERNAL_STACK)
    await fx.sql`update roomkit_private.ai_settings set retry_base_seconds = 0.1, max_attempts = 3`;
});
afterAll(async () => {
  await fx?.stop();
  await llm?.close();
});

interface Row {
  id: string;
  kind: string;
  body: string | null;
  sender_id: string | null;
  metadata: Record<string, unknown>;
}

/** A member with a private room in the given AI mode, subscribed to the room's private topic. */
async function aiRoom(stack: FunctionsStack, mode: "off" | "mention" | "always", label: string) {
  const user = await stack.user("Ada");
  const name = uniqueName(label);
  const [room] = await as(
    stack.sql,
    user,
    (tx) => tx<{ id: string }[]>`select id from roomkit.create_private_room(${name}, null, ${mode})`,
  );
  const roomId = room!.id;
  const client = await realtimeClient(stack.stack, { current: user.token });
  const events: Received[] = [];
  const channel = client
    .channel(`room:${roomId}:1`, { config: { private: true } })
    .on("broadcast", { event: "*" }, into(events));
  expect(await subscribe(channel)).toEqual({ status: "SUBSCRIBED" });
  return { user, name, roomId, client, events };
}

async function say(client: RoomkitClient, roomId: string, body: string, kind: "text" | "emoji" = "text") {
  const { data, error } = await client.rpc("send_message", { room_id: roomId, body, kind });
  expect(error).toBeNull();
  return data as { id: string };
}

function messages(stack: FunctionsStack, roomId: string, kind?: string): Promise<Row[]> {
  return stack.sql<Row[]>`
    select id, kind::text, body, sender_id, metadata from roomkit.room_messages
    where room_id = ${roomId} and (${kind ?? null}::text is null or kind::text = ${kind ?? null})
    order by created_at, id`;
}

/** Reads until `ok` holds for what was read; fails naming `what` and the last value read. */
async function settled<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const { value } = await eventually(async () => {
    const value = await read();
    if (!ok(value)) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    return { value };
  }, WAIT_MS);
  return value;
}

const ai = (events: Received[]) => events.filter((e) => e.event.startsWith("ai."));
const deltasOf = (events: Received[], replyId: string) =>
  events.filter((e) => e.event === "ai.delta" && e.payload.reply_id === replyId);

describe("ai-reply", () => {
  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when a member mentions @ai, then the reply streams to the room as typing, ordered deltas and done, and exactly one ai message with the same text is stored",
    async () => {
      const { name, roomId, client, events } = await aiRoom(fx, "mention", "Mention room");
      try {
        const asked = llm.script(name, () =>
          streamOf(["Hel", "lo ", "Ada", ", nice to ", "meet you ✨"], { delayMs: 20, usage: [42, 7] }),
        );
        const question = await say(client, roomId, "Hey @AI, can you say hello?");

        const [reply] = await settled(
          () => messages(fx, roomId, "ai"),
          (r) => r.length === 1,
          "the ai message",
        );
        await eventually(() => events.some((e) => e.event === "ai.done"), WAIT_MS, "ai.done");

        expect(reply).toMatchObject({
          kind: "ai",
          sender_id: AI_USER_ID,
          body: "Hello Ada, nice to meet you ✨",
        });
        expect(reply!.metadata).toMatchObject({
          reply_to: question.id,
          model: "fake",
          usage: { prompt_tokens: 42, completion_tokens: 7, estimated: false },
        });
        const stream = ai(events);
        const replyId = stream[0]!.payload.reply_id as string;
        expect(stream[0]!.event).toBe("ai.typing");
        expect(stream.at(-1)).toMatchObject({
          event: "ai.done",
          payload: { reply_id: replyId, message_id: reply!.id },
        });
        const deltas = deltasOf(events, replyId);
        expect(deltas.length).toBeGreaterThan(0);
        expect(deltas.map((d) => d.payload.seq)).toEqual(deltas.map((_, i) => i));
        expect(deltas.map((d) => d.payload.text).join("")).toBe(reply!.body);
        expect(stream.every((e) => e.event !== "ai.error")).toBe(true);
        // The stored message reaches members too, through its insert trigger.
        await eventually(
          () =>
            events.some((e) => e.event === "message.insert" && (e.payload.record as Row)?.id === reply!.id),
          WAIT_MS,
          "message.insert of the reply",
        );
        expect(await messages(fx, roomId, "ai")).toHaveLength(1);

        const request = asked.requests[0]!;
        expect(asked.requests).toHaveLength(1);
        expect(request.authorization).toBe("Bearer test");
        expect(request.body).toMatchObject({
          model: "fake",
          stream: true,
          stream_options: { include_usage: true },
        });
        expect(request.body.messages[0]).toMatchObject({ role: "system" });
        expect(request.body.messages[0]!.content).toContain(name);
        expect(request.body.messages[0]!.content).toContain("Ada");
        expect(request.body.messages.at(-1)).toEqual({
          role: "user",
          content: "Ada: Hey @AI, can you say hello?",
        });
        const [usage] = await fx.sql<{ tokens: number }[]>`
        select (prompt_tokens + completion_tokens)::int as tokens from roomkit_private.ai_usage where room_id = ${roomId}`;
        expect(usage?.tokens).toBe(49);
      } finally {
        await client.removeAllChannels();
      }
    },
  );

  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when the room's AI mode is always, then every human text message gets its own reply with the earlier reply as context, and emoji do not",
    async () => {
      const { name, roomId, client } = await aiRoom(fx, "always", "Always room");
      try {
        const asked = llm.script(name, (_req, attempt) => streamOf([`Answer ${attempt + 1}`]));
        await say(client, roomId, "first question");
        await settled(
          () => messages(fx, roomId, "ai"),
          (r) => r.length === 1,
          "first reply",
        );
        await say(client, roomId, "👍", "emoji");
        await say(client, roomId, "second question");
        const replies = await settled(
          () => messages(fx, roomId, "ai"),
          (r) => r.length === 2,
          "second reply",
        );

        expect(replies.map((r) => r.body)).toEqual(["Answer 1", "Answer 2"]);
        expect(asked.requests).toHaveLength(2);
        expect(asked.requests[1]!.body.messages.slice(1)).toEqual([
          { role: "user", content: "Ada: first question" },
          { role: "assistant", content: "Answer 1" },
          { role: "user", content: "Ada: 👍" },
          { role: "user", content: "Ada: second question" },
        ]);
      } finally {
        await client.removeAllChannels();
      }
    },
  );

  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when the AI mode is off, or a message does not mention @ai as a word, then no job is queued and the provider is never asked",
    async () => {
      const mention = await aiRoom(fx, "mention", "Quiet mention room");
      const off = await aiRoom(fx, "off", "Off room");
      try {
        const askedMention = llm.script(mention.name, () => streamOf(["Only this one"]));
        const askedOff = llm.script(off.name, () => streamOf(["never"]));
        await say(mention.client, mention.roomId, "hello everyone, no bots please");
        await say(mention.client, mention.roomId, "write to me at ada@ai.dev or @aiden");
        await say(off.client, off.roomId, "@ai are you there?");
        // A last message that does mention the AI: once its reply exists, earlier ones had their chance.
        await say(mention.client, mention.roomId, "ok now @ai");
        await settled(
          () => messages(fx, mention.roomId, "ai"),
          (r) => r.length === 1,
          "the one reply",
        );

        expect(askedMention.requests).toHaveLength(1);
        expect(askedOff.requests).toHaveLength(0);
        const jobs = await fx.sql<{ room_id: string }[]>`
        select room_id from roomkit_private.ai_jobs where room_id in (${mention.roomId}, ${off.roomId})`;
        expect(jobs.map((j) => j.room_id)).toEqual([mention.roomId]);
        expect(await messages(fx, off.roomId, "ai")).toHaveLength(0);
        expect(ai(off.events)).toHaveLength(0);
      } finally {
        await Promise.all([mention.client.removeAllChannels(), off.client.removeAllChannels()]);
      }
    },
  );

  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when the provider splits events at every few bytes, mid UTF-8, with CRLF lines and `:` comments, then the reply is whole and its usage is estimated",
    async () => {
      const { name, roomId, client, events } = await aiRoom(fx, "mention", "Split room");
      try {
        const parts = ["Naïve ", "café — ", "日本語 ", "👋🏽 done"];
        const wire = [
          ": OPENROUTER PROCESSING\n\n",
          ...parts.map((p) => chunkEvent(p)),
          ": OPENROUTER PROCESSING\n\n",
          chunkEvent("", "stop"),
          DONE_EVENT,
        ]
          .join("")
          .replace(/\n/g, "\r\n");
        llm.script(name, () => ({ kind: "stream", steps: splitBytes(wire, 3) }));
        await say(client, roomId, "@ai speak many languages");

        const [reply] = await settled(
          () => messages(fx, roomId, "ai"),
          (r) => r.length === 1,
          "the ai message",
        );
        expect(reply!.body).toBe(parts.join(""));
        expect(reply!.metadata.usage).toMatchObject({ estimated: true });
        await eventually(() => events.some((e) => e.event === "ai.done"), WAIT_MS, "ai.done");
        const replyId = ai(events)[0]!.payload.reply_id as string;
        expect(
          deltasOf(events, replyId)
            .map((d) => d.payload.text)
            .join(""),
        ).toBe(parts.join(""));
      } finally {
        await client.removeAllChannels();
      }
    },
  );

  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when the stream carries an error event mid-reply, then the reply is retried and only the successful attempt is stored",
    async () => {
      const { name, roomId, client, events } = await aiRoom(fx, "mention", "Flaky room");
      try {
        const asked = llm.script(name, (_req, attempt): FakeResponse => {
          if (attempt > 0) return streamOf(["Second ", "time ", "lucky"]);
          const error = { error: { code: 502, message: "Upstream overloaded" } };
          return {
            kind: "stream",
            steps: [{ write: chunkEvent("Half a tho") }, { write: `data: ${JSON.stringify(error)}\n\n` }],
          };
        });
        await say(client, roomId, "@ai try hard");

        const [reply] = await settled(
          () => messages(fx, roomId, "ai"),
          (r) => r.length === 1,
          "the ai message",
        );
        expect(reply!.body).toBe("Second time lucky");
        expect(asked.requests).toHaveLength(2);
        await eventually(() => events.some((e) => e.event === "ai.done"), WAIT_MS, "ai.done");
        const stream = ai(events);
        const failed = stream.find((e) => e.event === "ai.error")!;
        expect(failed.payload).toMatchObject({ retrying: true });
        const done = stream.find((e) => e.event === "ai.done")!;
        expect(done.payload.reply_id).not.toBe(failed.payload.reply_id);
        expect(stream.indexOf(failed)).toBeLessThan(stream.indexOf(done));
        expect(await messages(fx, roomId, "system")).toHaveLength(0);
      } finally {
        await client.removeAllChannels();
      }
    },
  );

  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when every attempt fails mid-stream, then after the last attempt the room gets one system message and no ai message",
    async () => {
      const { name, roomId, client, events } = await aiRoom(fx, "mention", "Broken room");
      try {
        const asked = llm.script(name, () => ({
          kind: "stream",
          steps: [{ write: `data: ${JSON.stringify({ error: { code: 500, message: "Internal" } })}\n\n` }],
        }));
        await say(client, roomId, "@ai please");

        const notices = await settled(
          () => messages(fx, roomId, "system"),
          (r) => r.length >= 1,
          "the give-up notice",
        );
        expect(notices).toHaveLength(1);
        expect(notices[0]!.metadata).toMatchObject({ event: "ai_failed" });
        expect(notices[0]!.body).toMatch(/could not reply/i);
        expect(asked.requests).toHaveLength(3);
        expect(await messages(fx, roomId, "ai")).toHaveLength(0);
        const [job] = await fx.sql<{ status: string; attempts: number }[]>`
        select status, attempts from roomkit_private.ai_jobs where room_id = ${roomId}`;
        expect(job).toEqual({ status: "failed", attempts: 3 });
        await eventually(
          () => ai(events).filter((e) => e.event === "ai.error").length === 3,
          WAIT_MS,
          "three ai.error",
        );
        expect(
          ai(events)
            .filter((e) => e.event === "ai.error")
            .map((e) => e.payload.retrying),
        ).toEqual([true, true, false]);
      } finally {
        await client.removeAllChannels();
      }
    },
  );

  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when the provider is slow but keeps sending, then the reply arrives whole; when it stalls past the idle timeout, then that attempt is abandoned and retried",
    async () => {
      const slow = await aiRoom(fx, "mention", "Slow room");
      const stalled = await aiRoom(fx, "mention", "Stalled room");
      try {
        // Gaps of 60 % of the idle timeout: 2.4 s in all, longer than the timeout, never silent that long.
        llm.script(slow.name, () =>
          streamOf(["Slow", " and", " steady", " wins"], { delayMs: IDLE_TIMEOUT_MS * 0.6 }),
        );
        const askedStalled = llm.script(stalled.name, (_req, attempt): FakeResponse => {
          if (attempt > 0) return streamOf(["Back again"]);
          return {
            kind: "stream",
            steps: [{ write: chunkEvent("I will ") }, { delayMs: IDLE_TIMEOUT_MS * 3 }],
          };
        });
        await say(slow.client, slow.roomId, "@ai take your time");
        await say(stalled.client, stalled.roomId, "@ai hello?");

        const [slowReply] = await settled(
          () => messages(fx, slow.roomId, "ai"),
          (r) => r.length === 1,
          "slow reply",
        );
        expect(slowReply!.body).toBe("Slow and steady wins");
        const [stalledReply] = await settled(
          () => messages(fx, stalled.roomId, "ai"),
          (r) => r.length === 1,
          "reply after the stall",
        );
        expect(stalledReply!.body).toBe("Back again");
        expect(askedStalled.requests).toHaveLength(2);
        await eventually(() => stalled.events.some((e) => e.event === "ai.done"), WAIT_MS, "ai.done");
        const error = ai(stalled.events).find((e) => e.event === "ai.error");
        expect(error?.payload).toMatchObject({ code: "stream_timeout", retrying: true });
      } finally {
        await Promise.all([slow.client.removeAllChannels(), stalled.client.removeAllChannels()]);
      }
    },
  );

  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when a room asks for more replies per minute than the limit, then the extra ones are not answered and one system message says why",
    async () => {
      const { name, roomId, client } = await aiRoom(fx, "always", "Busy room");
      try {
        const [{ limit } = { limit: 0 }] = await fx.sql<{ limit: number }[]>`
        select replies_per_minute as limit from roomkit_private.ai_settings`;
        const asked = llm.script(name, () => streamOf(["ok"]));
        for (let i = 0; i < limit + 3; i++) await say(client, roomId, `message ${i}`);

        const replies = await settled(
          () => messages(fx, roomId, "ai"),
          (r) => r.length === limit,
          "replies up to the limit",
        );
        expect(replies).toHaveLength(limit);
        const notices = await messages(fx, roomId, "system");
        expect(notices).toHaveLength(1);
        expect(notices[0]!.metadata).toMatchObject({ event: "ai_rate_limited" });
        expect(notices[0]!.body).toContain(`${limit} AI replies per minute`);
        expect(asked.requests).toHaveLength(limit);
      } finally {
        await client.removeAllChannels();
      }
    },
  );

  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when the room's daily token budget is spent, then one system message says so and the provider is not asked",
    async () => {
      const { name, roomId, client } = await aiRoom(fx, "mention", "Spent room");
      try {
        const asked = llm.script(name, () => streamOf(["too expensive"]));
        await fx.sql`
        insert into roomkit_private.ai_usage (room_id, day, prompt_tokens, completion_tokens, replies)
        select ${roomId}, (now() at time zone 'utc')::date, daily_token_budget, 0, 99 from roomkit_private.ai_settings`;
        await say(client, roomId, "@ai one");
        await say(client, roomId, "@ai two");

        const notices = await messages(fx, roomId, "system");
        expect(notices).toHaveLength(1);
        expect(notices[0]!.metadata).toMatchObject({ event: "ai_budget_exhausted" });
        expect(notices[0]!.body).toMatch(/daily budget/);
        const jobs = await fx.sql<{ status: string; last_error: string }[]>`
        select status, last_error from roomkit_private.ai_jobs where room_id = ${roomId}`;
        expect(jobs).toEqual([
          { status: "skipped", last_error: "budget_exhausted" },
          { status: "skipped", last_error: "budget_exhausted" },
        ]);
        expect(asked.requests).toHaveLength(0);
      } finally {
        await client.removeAllChannels();
      }
    },
  );

  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when two messages arrive at once in one room, then their replies stream one at a time, in message order",
    async () => {
      const { name, roomId, client } = await aiRoom(fx, "always", "Crowded room");
      try {
        const asked = llm.script(name, (req) => {
          const last = req.body.messages.at(-1)!.content;
          return streamOf([`Re: ${last.slice("Ada: ".length)}`, " (", "slowly", ")"], { delayMs: 60 });
        });
        // Two requests, two transactions, committed at about the same time.
        const results = await Promise.all([
          client.rpc("send_message", { room_id: roomId, body: "first" }),
          client.rpc("send_message", { room_id: roomId, body: "second" }),
        ]);
        expect(results.map((r) => r.error)).toEqual([null, null]);

        const replies = await settled(
          () => messages(fx, roomId, "ai"),
          (r) => r.length === 2,
          "both replies",
        );
        expect(asked.maxActive).toBe(1);
        const [a, b] = asked.requests;
        expect(a!.endedAt!).toBeLessThanOrEqual(b!.startedAt);
        const queued = await fx.sql<{ message_id: string }[]>`
        select message_id from roomkit_private.ai_jobs where room_id = ${roomId} order by id`;
        expect(replies.map((r) => r.metadata.reply_to)).toEqual(queued.map((j) => j.message_id));
        expect(new Set(queued.map((j) => j.message_id))).toEqual(
          new Set((await messages(fx, roomId, "text")).map((h) => h.id)),
        );
        const [{ most } = { most: 0 }] = await fx.sql<{ most: number }[]>`
        select count(*)::int as most from roomkit_private.ai_jobs where room_id = ${roomId} and status = 'running'`;
        expect(most).toBe(0);
      } finally {
        await client.removeAllChannels();
      }
    },
  );

  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when a worker dies holding a job, then after its lease expires the job is retried and answered once, and the dead worker can no longer write",
    async () => {
      const { name, roomId, client, user } = await aiRoom(fx, "mention", "Orphan room");
      try {
        const asked = llm.script(name, () => streamOf(["Recovered"]));
        const staleLease = randomUUID();
        // The job as a worker that crashed right after claiming it would leave it.
        await fx.sql.begin(async (tx) => {
          await tx`insert into roomkit.room_messages (room_id, sender_id, kind, body)
                 values (${roomId}, ${user.id}, 'text', '@ai are you still there?')`;
          await tx`update roomkit_private.ai_jobs
                 set status = 'running', attempts = 1, lease_id = ${staleLease}, lease_expires_at = now() + interval '1 second'
                 where room_id = ${roomId}`;
        });

        const [reply] = await settled(
          () => messages(fx, roomId, "ai"),
          (r) => r.length === 1,
          "the retried reply",
        );
        expect(reply!.body).toBe("Recovered");
        const [job] = await fx.sql<{ id: string; status: string; attempts: number }[]>`
        select id::text, status, attempts from roomkit_private.ai_jobs where room_id = ${roomId}`;
        expect(job).toMatchObject({ status: "done", attempts: 2 });
        const [late] = await fx.sql<{ id: string | null; outcome: string }[]>`
        select roomkit_private.complete_ai_job(${job!.id}::bigint, ${staleLease}::uuid, 'zombie reply') as id,
               roomkit_private.fail_ai_job(${job!.id}::bigint, ${staleLease}::uuid, 'zombie error') as outcome`;
        expect(late).toEqual({ id: null, outcome: "lost" });
        expect(await messages(fx, roomId, "ai")).toHaveLength(1);
        expect(asked.requests).toHaveLength(1);
      } finally {
        await client.removeAllChannels();
      }
    },
  );

  it("when a signed-in user reaches for the queue in SQL, then they can neither read it nor call the worker functions", async () => {
    const user = await fx.user("Eve");
    const attempts = [
      (tx: postgres.TransactionSql) => tx`select * from roomkit_private.ai_jobs`,
      (tx: postgres.TransactionSql) => tx`select * from roomkit_private.ai_usage`,
      (tx: postgres.TransactionSql) => tx`select roomkit_private.claim_ai_job()`,
      (tx: postgres.TransactionSql) =>
        tx`select roomkit_private.complete_ai_job(1, gen_random_uuid(), 'forged')`,
      (tx: postgres.TransactionSql) =>
        tx`select roomkit_private.skip_ai_job(1, gen_random_uuid(), 'x', 'x', 'x')`,
    ];
    for (const attempt of attempts) {
      const error = await as(fx.sql, user, attempt).then(
        () => null,
        (e: { code?: string }) => e,
      );
      expect(error?.code).toBe("42501");
    }
  });

  it("when anyone but the service role calls ai-reply, then it is refused (401 without a token, 403 for a user); the service role gets {processed}, or 202 for a background drain", async () => {
    const user: TestUser = await fx.user("Mallory");
    const anon = await fx.call("ai-reply", { method: "POST", token: null, body: {} });
    expect(anon.status).toBe(401);
    const asUser = await fx.call("ai-reply", { method: "POST", token: user.token, body: {} });
    expect(asUser.status).toBe(403);
    expect(await asUser.json()).toMatchObject({ error: { code: "forbidden" } });
    const service = await fx.call("ai-reply", { method: "POST", token: fx.stack.serviceRoleKey, body: {} });
    expect(service.status).toBe(200);
    expect(await service.json()).toEqual({ processed: expect.any(Number) });
    // For callers with short timeouts (pg_net): answer at once, drain in EdgeRuntime.waitUntil.
    const background = await fx.call("ai-reply?background=true", {
      method: "POST",
      token: fx.stack.serviceRoleKey,
      body: { type: "INSERT", table: "ai_jobs", schema: "private", record: {} },
    });
    expect(background.status).toBe(202);
    expect(await background.json()).toEqual({ accepted: true });
  });
});

// Needs a second stack whose functions have no AI provider configured: local stack only.
describe.skipIf(EXTERNAL_STACK)("ai-reply without a provider", () => {
  let bare: FunctionsStack;
  beforeAll(async () => {
    bare = await startFunctionsStack({ functionsEnv: {} });
  });
  afterAll(async () => {
    await bare?.stop();
  });

  it("when no AI provider is configured, then an AI room gets one clear system message instead of silence", async () => {
    const { roomId, client } = await aiRoom(bare, "mention", "Unconfigured room");
    try {
      await say(client, roomId, "@ai are you there?");
      await settled(
        () => messages(bare, roomId, "system"),
        (r) => r.length === 1,
        "the notice",
      );
      await say(client, roomId, "@ai hello??");
      await settled(
        () =>
          bare.sql`select 1 from roomkit_private.ai_jobs where room_id = ${roomId} and status = 'skipped'`,
        (r) => r.length === 2,
        "both jobs settled",
      );
      const notices = await messages(bare, roomId, "system");
      expect(notices).toHaveLength(1);
      expect(notices[0]!.metadata).toMatchObject({ event: "ai_unavailable" });
      expect(notices[0]!.body).toContain("AI_BASE_URL");
      expect(await messages(bare, roomId, "ai")).toHaveLength(0);
    } finally {
      await client.removeAllChannels();
    }
  });
});
