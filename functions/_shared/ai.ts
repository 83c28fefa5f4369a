/**
 * A client for OpenAI-compatible chat completions with `stream: true` (OpenAI, OpenRouter, Groq,
 * Together, vLLM, Ollama's /v1 …): a server-sent-events parser that survives any chunking, and a
 * streaming call that yields text deltas and ends with token usage.
 *
 * Wire format (OpenAI "Streaming" docs; OpenRouter "Streaming" docs; reference anchors §5.2):
 * - response `text/event-stream`; each event `data: {json}` with `object: "chat.completion.chunk"`
 *   and `choices[0].delta.content`; the stream ends with `data: [DONE]`;
 * - with `stream_options: {include_usage: true}` the last chunk has empty `choices` and `usage`;
 * - OpenRouter sends comment lines (`: OPENROUTER PROCESSING`) and reports errors that happen
 *   after the 200 as a `data:` event whose JSON has an `error` field.
 */
import { z } from "zod";
import { loadEnv } from "./env.ts";

/** Provider settings (secrets). All three of the first must be set for the AI participant to speak. */
export const aiEnv = z.object({
  /** Base URL of the API, up to and including the version: `https://api.openai.com/v1`. */
  AI_BASE_URL: z.url(),
  AI_API_KEY: z.string().min(1),
  AI_MODEL: z.string().min(1),
  /** Longest silence between two chunks of a stream before the attempt fails (ms). */
  AI_STREAM_IDLE_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** Longest whole attempt, headers to `[DONE]` (ms). */
  AI_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(90_000),
  /** Upper bound on the reply's length in tokens. */
  AI_MAX_TOKENS: z.coerce.number().int().positive().default(800),
});
export type AiConfig = z.infer<typeof aiEnv>;

/** Why there is no provider: nothing set (`missing`) or set but wrong (`invalid`, with the reason). */
export type AiConfigResult =
  | { ok: true; config: AiConfig }
  | { ok: false; reason: "missing" | "invalid"; message: string };

let cachedConfig: AiConfigResult | undefined;

/**
 * The provider configuration from the environment, validated once. A deployment without any of
 * `AI_BASE_URL`/`AI_API_KEY`/`AI_MODEL` is `missing`, not an error: rooms then get a notice.
 *
 * @example
 * const ai = loadAiConfig();
 * if (!ai.ok) console.warn(ai.message);
 */
export function loadAiConfig(source?: Record<string, string | undefined>): AiConfigResult {
  if (source === undefined && cachedConfig) return cachedConfig;
  const values = source ?? readEnv();
  let result: AiConfigResult;
  if (!values.AI_BASE_URL && !values.AI_API_KEY && !values.AI_MODEL) {
    result = { ok: false, reason: "missing", message: "AI_BASE_URL, AI_API_KEY and AI_MODEL are not set" };
  } else {
    try {
      result = { ok: true, config: loadEnv(aiEnv, values) };
    } catch (error) {
      result = { ok: false, reason: "invalid", message: (error as Error).message };
    }
  }
  if (source === undefined) cachedConfig = result;
  return result;
}

function readEnv(): Record<string, string | undefined> {
  const deno = (globalThis as { Deno?: { env: { toObject(): Record<string, string> } } }).Deno;
  if (deno) return deno.env.toObject();
  const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process;
  return proc?.env ?? {};
}

/** One server-sent event (WHATWG HTML "Server-sent events" §9.2.6). */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Incremental SSE parser: feed it text in any pieces (split mid-line, mid-event, CRLF split
 * between pieces) and it returns the events completed so far. Decode bytes with a streaming
 * `TextDecoder` first so multi-byte characters split across network chunks stay whole.
 *
 * @example
 * const parser = new SseParser();
 * parser.push("data: {\"a\"");      // []
 * parser.push(":1}\r\n\r\n");       // [{ event: "message", data: "{\"a\":1}" }]
 */
export class SseParser {
  #buffer = "";
  #data: string[] = [];
  #event = "";
  #id: string | undefined;
  // A chunk that ended in CR may be the first half of CRLF: skip an LF at the start of the next one.
  #skipLeadingLf = false;

  /** Adds text; returns the events it completed. */
  push(text: string): SseEvent[] {
    if (this.#skipLeadingLf && text.startsWith("\n")) text = text.slice(1);
    this.#skipLeadingLf = false;
    this.#buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.#buffer.slice(start, i);
      if (c === 13) {
        if (i + 1 < this.#buffer.length) {
          if (this.#buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          this.#skipLeadingLf = true;
        }
      }
      start = i + 1;
      const event = this.#line(line);
      if (event) events.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line: string): SseEvent | undefined {
    if (line === "") {
      if (this.#data.length === 0) {
        this.#event = "";
        return undefined;
      }
      const event: SseEvent = { event: this.#event || "message", data: this.#data.join("\n") };
      if (this.#id !== undefined) event.id = this.#id;
      this.#data = [];
      this.#event = "";
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.#data.push(value);
    else if (field === "event") this.#event = value;
    else if (field === "id" && !value.includes("\0")) this.#id = value;
    return undefined;
  }
}

/** A failed provider call. `retryable`: worth another attempt later (timeouts, 429, 5xx, mid-stream errors). */
export class AiProviderError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = "AiProviderError";
  }
}

/** Statuses where trying again later can succeed (OpenAI "Error codes": 429 rate limit, 5xx). */
const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529]);

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** True when the provider sent no usage and these are estimates (about 4 characters per token). */
  estimated: boolean;
}

export type ChatStreamItem =
  | { type: "delta"; text: string }
  | { type: "done"; usage: TokenUsage; finishReason: string | null; model: string | null };

export interface StreamChatOptions {
  signal?: AbortSignal;
  /** Overrides the configured model. */
  model?: string;
  temperature?: number;
  /** Overrides `fetch` (tests). */
  fetch?: typeof fetch;
}

/**
 * Rough token count for text when the provider reports none (OpenAI's rule of thumb: ~4 characters
 * per token in English), never below 1 for non-empty text.
 *
 * @example
 * estimateTokens("Hello there!"); // 3
 */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4));
}

const chunkSchema = z.looseObject({
  model: z.string().optional(),
  choices: z
    .array(
      z.looseObject({
        delta: z.looseObject({ content: z.string().nullish() }).nullish(),
        message: z.looseObject({ content: z.string().nullish() }).nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
  usage: z.looseObject({ prompt_tokens: z.number(), completion_tokens: z.number() }).nullish(),
  error: z.unknown().optional(),
});

function providerErrorMessage(error: unknown): { message: string; code: string } {
  if (error && typeof error === "object") {
    const e = error as { message?: unknown; code?: unknown; type?: unknown };
    return {
      message: typeof e.message === "string" ? e.message : JSON.stringify(error),
      code:
        typeof e.code === "string" || typeof e.code === "number" ? String(e.code) : String(e.type ?? "error"),
    };
  }
  return { message: String(error), code: "error" };
}

/**
 * Streams one chat completion: yields `delta`s as they arrive, then one `done` with usage (the
 * provider's, from the final chunk, else an estimate). Throws `AiProviderError` for HTTP errors,
 * error events inside the stream, a stream that ends without `[DONE]`, and timeouts (no chunk for
 * `AI_STREAM_IDLE_TIMEOUT_MS`, or longer than `AI_REQUEST_TIMEOUT_MS` in all).
 *
 * @example
 * for await (const item of streamChat(config, [{ role: "user", content: "Hi" }])) {
 *   if (item.type === "delta") process(item.text);
 * }
 */
export async function* streamChat(
  config: AiConfig,
  messages: readonly ChatMessage[],
  options: StreamChatOptions = {},
): AsyncGenerator<ChatStreamItem> {
  const controller = new AbortController();
  let timedOut: AiProviderError | undefined;
  const abortWith = (error: AiProviderError) => {
    timedOut ??= error;
    controller.abort(error);
  };
  const onOuterAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onOuterAbort, { once: true });
  const total = setTimeout(
    () => abortWith(new AiProviderError("The AI provider took too long to answer", "timeout", true)),
    config.AI_REQUEST_TIMEOUT_MS,
  );
  let idle: ReturnType<typeof setTimeout> | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () => abortWith(new AiProviderError("The AI provider stopped sending", "stream_timeout", true)),
      config.AI_STREAM_IDLE_TIMEOUT_MS,
    );
  };
  const body = {
    model: options.model ?? config.AI_MODEL,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: config.AI_MAX_TOKENS,
    ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
  };
  const url = `${config.AI_BASE_URL.replace(/\/+$/, "")}/chat/completions`;
  try {
    armIdle();
    let res: Response;
    try {
      res = await (options.fetch ?? fetch)(url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${config.AI_API_KEY}`,
          "content-type": "application/json",
          accept: "text/event-stream",
        },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (error) {
      throw timedOut ?? abortReason(options.signal) ?? networkError(error);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      let detail = text.slice(0, 500);
      try {
        detail = providerErrorMessage((JSON.parse(text) as { error?: unknown }).error ?? text).message;
      } catch {
        // Not JSON: keep the text.
      }
      throw new AiProviderError(
        `The AI provider answered ${res.status}${detail ? `: ${detail}` : ""}`,
        `http_${res.status}`,
        RETRYABLE_STATUS.has(res.status),
        res.status,
      );
    }
    if (!res.body) throw new AiProviderError("The AI provider sent no body", "empty_response", true);

    let promptTokens: number | undefined;
    let completionTokens: number | undefined;
    let finishReason: string | null = null;
    let model: string | null = null;
    let text = "";

    // Some servers ignore `stream` and answer with one JSON completion: accept that too.
    if ((res.headers.get("content-type") ?? "").includes("application/json")) {
      const parsed = chunkSchema.safeParse(await res.json().catch(() => null));
      if (!parsed.success)
        throw new AiProviderError("The AI provider sent an unreadable answer", "bad_response", true);
      if (parsed.data.error) {
        const e = providerErrorMessage(parsed.data.error);
        throw new AiProviderError(`The AI provider failed: ${e.message}`, e.code, true);
      }
      const choice = parsed.data.choices?.[0];
      text = choice?.message?.content ?? choice?.delta?.content ?? "";
      if (text) yield { type: "delta", text };
      yield {
        type: "done",
        usage: usageOf(parsed.data.usage, messages, text),
        finishReason: choice?.finish_reason ?? null,
        model: parsed.data.model ?? null,
      };
      return;
    }

    const reader = res.body.getReader();
    // Not every fetch errors a body that is being read when its signal aborts: race the abort too.
    const aborted = new Promise<never>((_, reject) => {
      if (controller.signal.aborted) reject(controller.signal.reason);
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    aborted.catch(() => {});
    const decoder = new TextDecoder();
    const parser = new SseParser();
    let done = false;
    try {
      while (!done) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await Promise.race([reader.read(), aborted]);
        } catch (error) {
          throw timedOut ?? abortReason(options.signal) ?? networkError(error);
        }
        armIdle();
        // At the end, a blank line completes a last event some servers leave unterminated.
        const events = chunk.done
          ? parser.push(`${decoder.decode()}\n\n`)
          : parser.push(decoder.decode(chunk.value, { stream: true }));
        for (const event of events) {
          const data = event.data.trim();
          if (data === "[DONE]") {
            done = true;
            break;
          }
          if (event.event === "error") {
            const e = providerErrorMessage(safeJson(data) ?? data);
            throw new AiProviderError(`The AI provider failed mid-stream: ${e.message}`, e.code, true);
          }
          const json = safeJson(data);
          const parsed = chunkSchema.safeParse(json);
          if (!parsed.success) continue;
          if (parsed.data.error) {
            const e = providerErrorMessage(parsed.data.error);
            throw new AiProviderError(`The AI provider failed mid-stream: ${e.message}`, e.code, true);
          }
          model ??= parsed.data.model ?? null;
          if (parsed.data.usage) {
            promptTokens = parsed.data.usage.prompt_tokens;
            completionTokens = parsed.data.usage.completion_tokens;
          }
          for (const choice of parsed.data.choices ?? []) {
            const delta = choice.delta?.content;
            if (delta) {
              text += delta;
              yield { type: "delta", text: delta };
            }
            if (choice.finish_reason) finishReason = choice.finish_reason;
          }
        }
        if (chunk.done && !done) {
          // Without [DONE] the reply may be cut short (OpenAI streams always end with it).
          if (finishReason === null)
            throw new AiProviderError("The AI provider's stream ended early", "stream_incomplete", true);
          done = true;
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
    yield {
      type: "done",
      usage:
        promptTokens !== undefined && completionTokens !== undefined
          ? { prompt_tokens: promptTokens, completion_tokens: completionTokens, estimated: false }
          : usageOf(null, messages, text),
      finishReason,
      model,
    };
  } finally {
    clearTimeout(total);
    clearTimeout(idle);
    options.signal?.removeEventListener("abort", onOuterAbort);
    controller.abort();
  }
}

function usageOf(
  usage: { prompt_tokens: number; completion_tokens: number } | null | undefined,
  messages: readonly ChatMessage[],
  text: string,
): TokenUsage {
  if (usage)
    return {
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      estimated: false,
    };
  // Each message costs a few tokens of framing besides its content (OpenAI cookbook: ~4).
  const prompt = messages.reduce((sum, m) => sum + estimateTokens(m.content) + 4, 3);
  return { prompt_tokens: prompt, completion_tokens: estimateTokens(text), estimated: true };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.aborted ? (signal.reason ?? new Error("aborted")) : undefined;
}

function networkError(error: unknown): AiProviderError {
  return new AiProviderError(
    `Could not reach the AI provider: ${(error as Error)?.message ?? String(error)}`,
    "network",
    true,
  );
}
