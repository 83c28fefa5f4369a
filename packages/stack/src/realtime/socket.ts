import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket, WebSocketServer } from "ws";
import { Channel, type ChannelHost, type ChannelServer } from "./channel.ts";
import {
  decodeFrame,
  EVENTS,
  encodeText,
  type InboundMessage,
  PHOENIX_TOPIC,
  TOPIC_PREFIX,
  VSN_1,
  VSN_2,
  type Vsn,
} from "./protocol.ts";
import { checkToken, resolveApiKey } from "./token.ts";

/**
 * The WebSocket endpoint `GET /realtime/v1/websocket?apikey=…&vsn=2.0.0` (supabase/realtime
 * `user_socket.ex`, Phoenix `socket.ex`).
 */

/** Connect refusals: HTTP status and `{"error": …}` text (user_socket.ex `error_response/1`). */
export const CONNECT_ERRORS = {
  missing: { status: 401, error: "API key is missing" },
  expired: { status: 401, error: "Token has expired" },
  claims: { status: 401, error: "Fields `role` and `exp` are required in JWT" },
  malformed: { status: 401, error: "The token provided is not a valid JWT" },
  signature: { status: 401, error: "Failed to validate JWT signature" },
} as const;

/** Phoenix reply to a message for a topic the socket has not joined (`encode_ignore`). */
const UNMATCHED_TOPIC = { status: "error", response: { reason: "unmatched topic" } };

/**
 * One client socket: routes frames to its channels and answers heartbeats.
 */
export class Connection implements ChannelHost {
  private readonly channels = new Map<string, Channel>();
  /** Called once when the socket has closed. */
  onGone: () => void = () => {};

  constructor(
    private readonly ws: WebSocket,
    private readonly server: ChannelServer,
    readonly vsn: Vsn,
    readonly connectToken: string,
    readonly headers: Record<string, string>,
  ) {
    ws.on("message", (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    ws.on("close", () => this.onClose());
    ws.on("error", () => ws.terminate());
  }

  sendRaw(frame: string | Buffer): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(frame);
  }

  channelStopped(channel: Channel): void {
    if (this.channels.get(channel.topic) === channel) this.channels.delete(channel.topic);
  }

  /** Closes the socket (server restart / shutdown); clients reconnect on their own. */
  close(code = 1001, reason = "server restart"): void {
    this.ws.close(code, reason);
    // A peer that never completes the closing handshake must not keep the server up.
    setTimeout(() => this.ws.terminate(), 1000).unref();
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    let msg: InboundMessage;
    try {
      msg = decodeFrame(data, isBinary, this.vsn);
    } catch (error) {
      this.server.log(`undecodable frame: ${(error as Error).message}`);
      return;
    }
    if (msg.topic === PHOENIX_TOPIC) {
      if (msg.event === EVENTS.heartbeat)
        this.sendRaw(
          encodeText(this.vsn, null, msg.ref, PHOENIX_TOPIC, EVENTS.reply, { status: "ok", response: {} }),
        );
      return;
    }
    if (msg.event === EVENTS.join) {
      this.onJoin(msg);
      return;
    }
    const channel = this.channels.get(msg.topic);
    if (!channel || (msg.joinRef !== null && msg.joinRef !== channel.joinRef)) {
      this.sendRaw(encodeText(this.vsn, msg.joinRef, msg.ref, msg.topic, EVENTS.reply, UNMATCHED_TOPIC));
      return;
    }
    channel.run(() => channel.handle(msg));
  }

  private onJoin(msg: InboundMessage): void {
    if (!msg.topic.startsWith(TOPIC_PREFIX)) {
      this.sendRaw(encodeText(this.vsn, msg.joinRef, msg.ref, msg.topic, EVENTS.reply, UNMATCHED_TOPIC));
      return;
    }
    // A second join on a joined topic closes the existing channel first (Phoenix socket.ex).
    this.channels.get(msg.topic)?.stop(true);
    const channel = new Channel(this.server, this, msg.topic, msg.joinRef ?? msg.ref ?? "");
    this.channels.set(msg.topic, channel);
    channel.run(() => channel.join(msg));
  }

  private onClose(): void {
    for (const channel of [...this.channels.values()]) channel.stop(false);
    this.channels.clear();
    this.onGone();
  }
}

/**
 * Accepts or refuses a WebSocket upgrade. Refusals are JSON `{"error": …}` with Supabase's
 * status, sent after `connectBackoffMs` like the server's `CONNECT_ERROR_BACKOFF_MS`.
 *
 * @example
 * acceptUpgrade(wss, server, req, socket, head, "/websocket?apikey=…&vsn=2.0.0", 0, (c) => live.add(c));
 */
export async function acceptUpgrade(
  wss: WebSocketServer,
  server: ChannelServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  path: string,
  connectBackoffMs: number,
  onConnection: (c: Connection) => void,
): Promise<void> {
  const url = new URL(path, "http://local");
  const refuse = async (status: number, error: string) => {
    if (connectBackoffMs > 0) await new Promise((r) => setTimeout(r, connectBackoffMs));
    const body = JSON.stringify({ error });
    socket.end(
      `HTTP/1.1 ${status} ${status === 404 ? "Not Found" : "Unauthorized"}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  };
  if (!/^\/(socket\/)?websocket\/?$/.test(url.pathname)) return refuse(404, "Not Found");
  const headerKey = req.headers["x-api-key"];
  const raw = (typeof headerKey === "string" ? headerKey : undefined) ?? url.searchParams.get("apikey");
  if (!raw) return refuse(CONNECT_ERRORS.missing.status, CONNECT_ERRORS.missing.error);
  const token = resolveApiKey(raw, server.keys);
  const checked = await checkToken(token, server.keys);
  if (!checked.ok) {
    const e =
      checked.kind === "expired"
        ? CONNECT_ERRORS.expired
        : checked.kind === "claims"
          ? CONNECT_ERRORS.claims
          : checked.kind === "signature"
            ? CONNECT_ERRORS.signature
            : CONNECT_ERRORS.malformed;
    return refuse(e.status, e.error);
  }
  const vsn: Vsn = url.searchParams.get("vsn") === VSN_2 ? VSN_2 : VSN_1;
  // Policies see the upgrade's `x-*` headers as `request.headers` (authorization.ex).
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (name.startsWith("x-") && typeof value === "string") headers[name] = value;
  wss.handleUpgrade(req, socket, head, (ws) => {
    onConnection(new Connection(ws, server, vsn, token, headers));
  });
}
