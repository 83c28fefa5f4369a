import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { sleep } from "./wait.ts";

/**
 * The fakes the suites put at the network edge of what cannot run here: an LLM provider and
 * LiveKit's server API. Everything behind them (functions, Postgres, the stack) is real.
 */

/**
 * A FAKE LLM provider: only the HTTP edge of an OpenAI-compatible API
 * (`POST /v1/chat/completions` with `stream: true`), on a free loopback port. Tests script what it
 * sends byte for byte — normal SSE streams, events split at any byte, `:` comment lines, error
 * events in the middle of a stream, pauses, HTTP errors — and read back what it was asked.
 *
 * Scripts are chosen by a substring of the request's messages (each test's room has a unique
 * name, and the system prompt names the room), so tests do not see each other's traffic.
 */

/** One thing the fake does while answering: write bytes, then wait. */
export interface FakeStep {
  write?: string | Uint8Array;
  delayMs?: number;
}

export type FakeResponse =
  | { kind: "stream"; steps: FakeStep[]; contentType?: string }
  | { kind: "status"; status: number; body: unknown };

/** A request the fake received (`body` is the parsed JSON). */
export interface FakeRequest {
  body: {
    model: string;
    stream: boolean;
    stream_options?: { include_usage?: boolean };
    messages: { role: string; content: string }[];
  };
  authorization: string | undefined;
  startedAt: number;
  endedAt?: number;
}

/** Decides the answer to the `attempt`-th (0-based) request matching a script. */
export type Responder = (request: FakeRequest, attempt: number) => FakeResponse;

interface Script {
  match: string;
  respond: Responder;
  requests: FakeRequest[];
  active: number;
  maxActive: number;
}

export interface FakeLlm {
  /** Base URL to use as `AI_BASE_URL` (ends with `/v1`). */
  url: string;
  /** Answers requests whose messages contain `match` with `respond`; returns what was asked. */
  script(match: string, respond: Responder): Script;
  /** Every request, in arrival order. */
  requests: FakeRequest[];
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/** One `chat.completion.chunk` event carrying `content` (OpenAI's streaming shape). */
export function chunkEvent(content: string, finishReason: string | null = null): string {
  const chunk = {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model: "fake",
    choices: [{ index: 0, delta: finishReason ? {} : { content }, finish_reason: finishReason }],
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** The last chunk with `stream_options.include_usage`: empty choices, usage. */
export function usageEvent(promptTokens: number, completionTokens: number): string {
  const chunk = {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model: "fake",
    choices: [],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

export const DONE_EVENT = "data: [DONE]\n\n";

/**
 * A complete, well-formed stream of `parts` as deltas, a stop chunk, optional usage and `[DONE]`,
 * each event its own write, `delayMs` apart.
 */
export function streamOf(
  parts: string[],
  options: { delayMs?: number; usage?: [number, number] } = {},
): FakeResponse {
  const events = [...parts.map((p) => chunkEvent(p)), chunkEvent("", "stop")];
  if (options.usage) events.push(usageEvent(options.usage[0], options.usage[1]));
  events.push(DONE_EVENT);
  // No pause after the last event: the answer is over once [DONE] is written.
  return {
    kind: "stream",
    steps: events.map((write, i) => ({ write, delayMs: i < events.length - 1 ? (options.delayMs ?? 0) : 0 })),
  };
}

/** The same bytes as `events`, cut into pieces of `size` bytes (splitting events, lines and UTF-8 sequences). */
export function splitBytes(events: string, size: number): FakeStep[] {
  const bytes = encoder.encode(events);
  const steps: FakeStep[] = [];
  for (let i = 0; i < bytes.length; i += size) steps.push({ write: bytes.slice(i, i + size), delayMs: 2 });
  return steps;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * Starts the fake on 127.0.0.1 and a free port. Unscripted requests get a short default reply.
 *
 * @example
 * const llm = await startFakeLlm();
 * const asked = llm.script("Room 42", () => streamOf(["Hel", "lo"]));
 * // … AI_BASE_URL = llm.url …
 * await llm.close();
 */
export async function startFakeLlm(): Promise<FakeLlm> {
  const scripts: Script[] = [];
  const requests: FakeRequest[] = [];
  const sockets = new Set<Socket>();

  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "not found", type: "invalid_request_error" } }));
      return;
    }
    const request: FakeRequest = {
      body: JSON.parse(await readBody(req)) as FakeRequest["body"],
      authorization: req.headers.authorization,
      startedAt: Date.now(),
    };
    requests.push(request);
    const text = request.body.messages.map((m) => m.content).join("\n");
    const script = scripts.find((s) => text.includes(s.match));
    const attempt = script ? script.requests.length : 0;
    script?.requests.push(request);
    const response = script ? script.respond(request, attempt) : streamOf(["Hello from the fake model."]);
    if (script) {
      script.active++;
      script.maxActive = Math.max(script.maxActive, script.active);
    }
    try {
      if (response.kind === "status") {
        res.writeHead(response.status, { "content-type": "application/json" });
        res.end(JSON.stringify(response.body));
        return;
      }
      res.writeHead(200, {
        "content-type": response.contentType ?? "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
      });
      res.flushHeaders();
      for (const step of response.steps) {
        if (res.destroyed) break;
        if (step.write !== undefined) res.write(step.write);
        if (step.delayMs) await sleep(step.delayMs);
      }
      res.end();
    } finally {
      request.endedAt = Date.now();
      if (script) script.active--;
    }
  };

  const server = createServer((req, res) => {
    answer(req, res).catch((error) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    script(match, respond) {
      const script: Script = { match, respond, requests: [], active: 0, maxActive: 0 };
      scripts.push(script);
      return script;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** A unique, recognisable room name for one test. */
export function uniqueName(label: string): string {
  return `${label} ${randomUUID().slice(0, 8)}`;
}

/** A request the fake LiveKit server received. */
export interface LivekitCall {
  method: string;
  body: Record<string, unknown>;
  authorization: string | undefined;
}

export interface FakeLivekit {
  url: string;
  apiKey: string;
  apiSecret: string;
  calls: LivekitCall[];
  failWith: { status: number; code: string } | undefined;
  close(): Promise<void>;
}

/**
 * A FAKE LiveKit server: only its Twirp HTTP edge (`POST /twirp/livekit.RoomService/<Method>`), on a
 * free loopback port. It records calls and answers `{}` (or a Twirp error when told to fail).
 */
export async function startFakeLivekit(): Promise<FakeLivekit> {
  const state = {
    url: "",
    apiKey: `APIfake${randomUUID().slice(0, 6)}`,
    apiSecret: randomUUID() + randomUUID(),
    calls: [] as LivekitCall[],
    failWith: undefined as { status: number; code: string } | undefined,
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const m = /^\/twirp\/livekit\.RoomService\/(\w+)$/.exec(req.url ?? "");
      const text = Buffer.concat(chunks).toString("utf8");
      if (m)
        state.calls.push({
          method: m[1]!,
          body: text ? JSON.parse(text) : {},
          authorization: req.headers.authorization,
        });
      const fail = state.failWith;
      if (!m || fail) {
        res.writeHead(fail?.status ?? 404, { "content-type": "application/json" });
        res.end(JSON.stringify({ code: fail?.code ?? "bad_route", msg: "fake livekit" }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${address.port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
