import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyError, readBody, sendJson } from "../http.ts";
import { writePolicies } from "./authorization.ts";
import { tenantTopic } from "./broadcast.ts";
import type { ChannelServer } from "./channel.ts";
import { ENCODING_BINARY, ENCODING_JSON, OutboundBroadcast, TOPIC_PREFIX } from "./protocol.ts";
import { checkToken, resolveApiKey } from "./token.ts";

/**
 * Realtime's REST broadcast API under `/realtime/v1/api` (supabase/realtime `router.ex`,
 * `broadcast_controller.ex`, `broadcast_single_controller.ex`, `plugs/auth_tenant.ex`):
 * - `POST /api/broadcast` `{messages:[{topic, event, payload, private?, id?}]}` → 202;
 * - `POST /api/broadcast/:topic/events/:event[?private=true]` with the raw payload → 202
 *   (realtime-js `httpSend`).
 * Private messages need the INSERT (write) policy under the caller's JWT; denied ones are
 * skipped silently and the answer is still 202.
 */

const UNAUTHORIZED = { status: 401, body: { message: "Unauthorized" } };
/** Most messages one batch may carry (tenant `max_events_per_second`-based limit on Supabase). */
const MAX_BATCH = 1000;

/** A JSON answer; without a body (202), an empty one with `content-length: 0`. */
function send(res: ServerResponse, status: number, body?: unknown): void {
  sendJson(res, status, body, body === undefined ? { "content-length": "0" } : {});
}

interface BatchMessage {
  topic: string;
  event: string;
  payload: Buffer;
  encoding: typeof ENCODING_BINARY | typeof ENCODING_JSON;
  isPrivate: boolean;
  id?: string;
}

/**
 * Handles a request under `/realtime/v1/api`; false when the path is not one of ours.
 *
 * @example
 * if (!(await handleBroadcastApi(server, req, res, "/api/broadcast"))) notFound(res);
 */
export async function handleBroadcastApi(
  server: ChannelServer,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<boolean> {
  const url = new URL(path, "http://local");
  const single = /^\/api\/broadcast\/([^/]+)\/events\/([^/]+)\/?$/.exec(url.pathname);
  if (url.pathname !== "/api/broadcast" && !single) return false;
  if (req.method !== "POST") {
    send(res, 404, { message: "Not Found" });
    return true;
  }
  const auth = req.headers.authorization;
  const apikey = req.headers.apikey;
  const raw = auth?.startsWith("Bearer ") ? auth.slice(7) : typeof apikey === "string" ? apikey : undefined;
  const checked = raw ? await checkToken(resolveApiKey(raw, server.keys), server.keys) : undefined;
  if (!checked?.ok) {
    send(res, UNAUTHORIZED.status, UNAUTHORIZED.body);
    return true;
  }
  const body = await readBody(req, server.settings.maxPayloadBytes * 2).catch((error: unknown) => {
    if (error instanceof BodyError) return null;
    throw error;
  });
  if (!body) {
    send(res, 413, { message: "Payload too large" });
    return true;
  }
  let messages: BatchMessage[];
  if (single) {
    const binary = (req.headers["content-type"] ?? "").startsWith("application/octet-stream");
    messages = [
      {
        topic: decodeURIComponent(single[1] ?? ""),
        event: decodeURIComponent(single[2] ?? ""),
        payload: body,
        encoding: binary ? ENCODING_BINARY : ENCODING_JSON,
        isPrivate: url.searchParams.get("private") === "true",
      },
    ];
    if (!binary && !isJson(body)) {
      send(res, 422, { message: "Invalid payload" });
      return true;
    }
  } else {
    const parsed = parseBatch(body);
    if (typeof parsed === "string") {
      send(res, 422, { message: parsed });
      return true;
    }
    if (parsed.length > MAX_BATCH) {
      send(res, 429, { message: "Too many messages to broadcast, please reduce the batch size" });
      return true;
    }
    messages = parsed;
  }
  if (messages.some((m) => m.payload.length > server.settings.maxPayloadBytes)) {
    send(res, 422, { message: "Payload size exceeds tenant limit" });
    return true;
  }
  const writeByTopic = new Map<string, boolean>();
  for (const m of messages) {
    if (m.isPrivate) {
      let allowed = writeByTopic.get(m.topic);
      if (allowed === undefined) {
        const claims = checked.claims;
        allowed = await writePolicies(server.sql, {
          topic: m.topic,
          role: claims.role,
          claims,
          headers: headerMap(req),
        })
          .then((w) => w.broadcastWrite)
          .catch(() => false);
        writeByTopic.set(m.topic, allowed);
      }
      if (!allowed) continue;
    }
    const meta = m.id !== undefined ? JSON.stringify({ id: m.id }) : "";
    const frame = new OutboundBroadcast(`${TOPIC_PREFIX}${m.topic}`, m.event, m.payload, m.encoding, meta);
    server.hub.publish(tenantTopic(m.topic, m.isPrivate), frame);
  }
  send(res, 202);
  return true;
}

function isJson(body: Buffer): boolean {
  try {
    JSON.parse(body.toString("utf8"));
    return true;
  } catch {
    return false;
  }
}

function headerMap(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") out[k] = v;
  return out;
}

function parseBatch(body: Buffer): BatchMessage[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return "Invalid JSON body";
  }
  const list = (parsed as { messages?: unknown })?.messages;
  if (!Array.isArray(list)) return "messages is required";
  const out: BatchMessage[] = [];
  for (const item of list) {
    const m = item as Record<string, unknown>;
    if (typeof m?.topic !== "string" || typeof m.event !== "string") return "topic and event are required";
    out.push({
      topic: m.topic,
      event: m.event,
      payload: Buffer.from(JSON.stringify(m.payload ?? {})),
      encoding: ENCODING_JSON,
      isPrivate: m.private === true || m.private === "true",
      id: typeof m.id === "string" || typeof m.id === "number" ? String(m.id) : undefined,
    });
  }
  return out;
}
