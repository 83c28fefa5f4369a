import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AiConfig,
  AiProviderError,
  type ChatStreamItem,
  loadAiConfig,
  SseParser,
  streamChat,
} from "../../functions/_shared/ai.ts";
import { chunkEvent, DONE_EVENT, usageEvent } from "../support/fakes.ts";

/**
 * The provider client of `functions/_shared/ai.ts` on its own. The provider is a FAKE at its HTTP
 * edge: a `fetch` that answers with scripted bytes (the same event builders as the HTTP fake).
 */

const config: AiConfig = {
  AI_BASE_URL: "http://provider.test/v1",
  AI_API_KEY: "k",
  AI_MODEL: "m",
  AI_STREAM_IDLE_TIMEOUT_MS: 300,
  AI_REQUEST_TIMEOUT_MS: 2000,
  AI_MAX_TOKENS: 100,
};

/** A fetch answering with `pieces` as the body, `gapMs` apart. */
function fakeFetch(pieces: Uint8Array[], init: ResponseInit = {}, gapMs = 0): typeof fetch {
  return (async (_url: unknown, request?: RequestInit) => {
    const signal = request?.signal ?? undefined;
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        for (const piece of pieces) {
          if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
          if (signal?.aborted) return;
          controller.enqueue(piece);
        }
        controller.close();
      },
    });
    signal?.addEventListener("abort", () => body.cancel().catch(() => {}));
    return new Response(body, {
      status: 200,
      headers: { "content-type": "text/event-stream" },
      ...init,
    });
  }) as typeof fetch;
}

async function collect(fetchImpl: typeof fetch): Promise<ChatStreamItem[]> {
  const items: ChatStreamItem[] = [];
  for await (const item of streamChat(config, [{ role: "user", content: "hi" }], { fetch: fetchImpl }))
    items.push(item);
  return items;
}

async function failure(fetchImpl: typeof fetch): Promise<AiProviderError> {
  try {
    await collect(fetchImpl);
  } catch (error) {
    if (error instanceof AiProviderError) return error;
    throw error;
  }
  throw new Error("expected the stream to fail");
}

const enc = new TextEncoder();

function cut(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    pieces.push(bytes.slice(last, p));
    last = p;
  }
  return pieces;
}

describe("OpenAI-compatible streaming client", () => {
  it("when a stream is cut into arbitrary byte pieces (mid-event, mid-CRLF, mid-UTF-8, with comments), then the deltas and usage are always the same", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 30 }),
        async (parts, crlf, cuts) => {
          let wire = [
            ": keep-alive\n\n",
            ...parts.map((p) => chunkEvent(p)),
            chunkEvent("", "stop"),
            usageEvent(11, 5),
            DONE_EVENT,
          ].join("");
          if (crlf) wire = wire.replace(/\n/g, "\r\n");
          const items = await collect(fakeFetch(cut(enc.encode(wire), cuts)));
          const text = items.flatMap((i) => (i.type === "delta" ? [i.text] : [])).join("");
          expect(text).toBe(parts.join(""));
          expect(items.at(-1)).toMatchObject({
            type: "done",
            finishReason: "stop",
            usage: { prompt_tokens: 11, completion_tokens: 5, estimated: false },
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it("when a CRLF is split between pieces, lines end in a bare CR, or an event has several data lines, then the parser follows the SSE rules", () => {
    const parser = new SseParser();
    expect(parser.push("data: a\r")).toEqual([]);
    expect(parser.push("\ndata: b\r\r")).toEqual([{ event: "message", data: "a\nb" }]);
    expect(parser.push("event: error\ndata:x\n\n")).toEqual([{ event: "error", data: "x" }]);
    expect(parser.push(": comment only\n\n")).toEqual([]);
  });

  it("when the provider answers 401 or 429, then the error says so and only 429 is worth retrying", async () => {
    const denied = await failure(
      fakeFetch([enc.encode(JSON.stringify({ error: { message: "Incorrect API key provided" } }))], {
        status: 401,
        headers: { "content-type": "application/json" },
      }),
    );
    expect(denied).toMatchObject({ code: "http_401", retryable: false, status: 401 });
    expect(denied.message).toContain("Incorrect API key provided");
    const limited = await failure(fakeFetch([enc.encode("slow down")], { status: 429 }));
    expect(limited).toMatchObject({ code: "http_429", retryable: true });
  });

  it("when the stream ends without [DONE] or a finish reason, then it is an incomplete, retryable failure", async () => {
    const error = await failure(fakeFetch([enc.encode(chunkEvent("Half"))]));
    expect(error).toMatchObject({ code: "stream_incomplete", retryable: true });
  });

  it("when the provider goes silent longer than the idle timeout, then the call fails with stream_timeout", async () => {
    const pieces = [enc.encode(chunkEvent("a")), enc.encode(chunkEvent("b")), enc.encode(DONE_EVENT)];
    const error = await failure(fakeFetch(pieces, {}, config.AI_STREAM_IDLE_TIMEOUT_MS * 2));
    expect(error).toMatchObject({ code: "stream_timeout", retryable: true });
  });

  it("when the provider ignores stream:true and sends one JSON completion, then its text is one delta with its usage", async () => {
    const completion = {
      object: "chat.completion",
      model: "m",
      choices: [{ index: 0, message: { role: "assistant", content: "Whole answer" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 2 },
    };
    const items = await collect(
      fakeFetch([enc.encode(JSON.stringify(completion))], {
        headers: { "content-type": "application/json" },
      }),
    );
    expect(items).toEqual([
      { type: "delta", text: "Whole answer" },
      {
        type: "done",
        usage: { prompt_tokens: 3, completion_tokens: 2, estimated: false },
        finishReason: "stop",
        model: "m",
      },
    ]);
  });

  it("when none of AI_BASE_URL, AI_API_KEY, AI_MODEL is set, then the config is missing; when one is wrong, then it is invalid and named", () => {
    expect(loadAiConfig({})).toMatchObject({ ok: false, reason: "missing" });
    const invalid = loadAiConfig({ AI_BASE_URL: "not a url", AI_API_KEY: "k", AI_MODEL: "m" });
    expect(invalid).toMatchObject({ ok: false, reason: "invalid" });
    expect(!invalid.ok && invalid.message).toContain("AI_BASE_URL");
    expect(loadAiConfig({ AI_BASE_URL: "http://x/v1", AI_API_KEY: "k", AI_MODEL: "m" })).toMatchObject({
      ok: true,
      config: { AI_MODEL: "m", AI_STREAM_IDLE_TIMEOUT_MS: 30_000 },
    });
  });
});
