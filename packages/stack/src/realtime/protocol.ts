/**
 * Wire format of Supabase Realtime as `@supabase/realtime-js` 2.119 speaks it: Phoenix
 * serializer 2.0.0 (text JSON arrays plus binary "user broadcast" frames) and 1.0.0 (JSON
 * objects). Facts from realtime-js `src/lib/serializer.ts` and supabase/realtime
 * `lib/realtime_web/socket/v2_serializer.ex`.
 */

export const VSN_1 = "1.0.0";
export const VSN_2 = "2.0.0";
export type Vsn = typeof VSN_1 | typeof VSN_2;

/** Phoenix control events (Phoenix `lib/phoenix/socket/message.ex`, realtime-js `constants.ts`). */
export const EVENTS = {
  join: "phx_join",
  leave: "phx_leave",
  reply: "phx_reply",
  close: "phx_close",
  error: "phx_error",
  heartbeat: "heartbeat",
  broadcast: "broadcast",
  presence: "presence",
  presenceState: "presence_state",
  presenceDiff: "presence_diff",
  system: "system",
  accessToken: "access_token",
} as const;

/** Topic of socket-level messages (heartbeats). */
export const PHOENIX_TOPIC = "phoenix";

/** realtime-js prefixes every channel name with this (`RealtimeClient.channel()`). */
export const TOPIC_PREFIX = "realtime:";

/** Binary frame kinds: 3 = client "user broadcast push", 4 = server "user broadcast" (v2_serializer.ex). */
const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;
/** Payload encodings inside binary frames: 0 raw bytes, 1 JSON text. */
export const ENCODING_BINARY = 0;
export const ENCODING_JSON = 1;

/** One decoded client message; `payload` is JSON for text frames. */
export interface InboundMessage {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: unknown;
  /** Set for binary kind-3 frames: the user broadcast, payload bytes untouched. */
  userBroadcast?: UserBroadcast;
}

/** A user broadcast whose payload is kept as bytes so fan-out never re-encodes it. */
export interface UserBroadcast {
  event: string;
  encoding: typeof ENCODING_BINARY | typeof ENCODING_JSON;
  /** JSON text (encoding 1) or raw bytes (encoding 0). */
  payload: Buffer;
}

export class ProtocolError extends Error {}

/**
 * Decodes one WebSocket frame from a client.
 *
 * @example
 * decodeFrame('["1","1","realtime:room","phx_join",{}]', false, "2.0.0").event // "phx_join"
 */
export function decodeFrame(data: Buffer | string, isBinary: boolean, vsn: Vsn): InboundMessage {
  if (isBinary) return decodeUserBroadcastPush(typeof data === "string" ? Buffer.from(data) : data);
  const text = typeof data === "string" ? data : data.toString("utf8");
  const parsed: unknown = JSON.parse(text);
  if (vsn === VSN_2) {
    if (!Array.isArray(parsed) || parsed.length !== 5) throw new ProtocolError("expected a 5-element array");
    const [joinRef, ref, topic, event, payload] = parsed as unknown[];
    if (typeof topic !== "string" || typeof event !== "string")
      throw new ProtocolError("topic and event must be strings");
    return { joinRef: strOrNull(joinRef), ref: strOrNull(ref), topic, event, payload };
  }
  const o = parsed as Record<string, unknown>;
  if (!o || typeof o !== "object" || typeof o.topic !== "string" || typeof o.event !== "string")
    throw new ProtocolError("expected an object with topic and event");
  return {
    joinRef: strOrNull(o.join_ref),
    ref: strOrNull(o.ref),
    topic: o.topic,
    event: o.event,
    payload: o.payload,
  };
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** Layout (realtime-js `_encodeUserBroadcastPush`): kind, 5 lengths, encoding, strings, payload. */
function decodeUserBroadcastPush(buf: Buffer): InboundMessage {
  if (buf.length < 7 || buf[0] !== KIND_USER_BROADCAST_PUSH)
    throw new ProtocolError("unsupported binary frame");
  const encoding = buf[6] === ENCODING_BINARY ? ENCODING_BINARY : ENCODING_JSON;
  let offset = 7;
  const field = (lengthAt: number): string => {
    const len = buf[lengthAt] ?? 0;
    const s = buf.toString("utf8", offset, offset + len);
    offset += len;
    return s;
  };
  const joinRef = field(1);
  const ref = field(2);
  const topic = field(3);
  const event = field(4);
  field(5); // metadata (e.g. `persist`): not used by this server, as in v2.129
  if (offset > buf.length) throw new ProtocolError("truncated binary frame");
  const payload = buf.subarray(offset);
  return {
    joinRef: joinRef || null,
    ref: ref || null,
    topic,
    event: EVENTS.broadcast,
    payload: undefined,
    userBroadcast: { event, encoding, payload },
  };
}

/**
 * Encodes a server message as text for the socket's serializer version.
 *
 * @example
 * encodeText("2.0.0", null, "3", "phoenix", "phx_reply", { status: "ok", response: {} })
 */
export function encodeText(
  vsn: Vsn,
  joinRef: string | null,
  ref: string | null,
  topic: string,
  event: string,
  payload: unknown,
): string {
  if (vsn === VSN_2) return JSON.stringify([joinRef, ref, topic, event, payload]);
  return JSON.stringify({ join_ref: joinRef, ref, topic, event, payload });
}

/**
 * One broadcast about to be fanned out: built once, encoded at most once per wire format,
 * whatever the number of subscribers.
 */
export class OutboundBroadcast {
  private v2Binary?: Buffer;
  private v1Text?: string;
  constructor(
    readonly topic: string,
    readonly event: string,
    readonly payload: UserBroadcast["payload"],
    readonly encoding: UserBroadcast["encoding"],
    /** JSON text of `meta` (e.g. `{"id":"…"}`), or empty. */
    readonly metaJson = "",
  ) {}

  /** Server kind 4 frame (v2_serializer.ex `fastlane!(%UserBroadcast{})`). */
  binary(): Buffer {
    if (this.v2Binary) return this.v2Binary;
    const topic = Buffer.from(this.topic);
    const event = Buffer.from(this.event);
    const meta = Buffer.from(this.metaJson);
    const header = Buffer.from([KIND_USER_BROADCAST, topic.length, event.length, meta.length, this.encoding]);
    this.v2Binary = Buffer.concat([header, topic, event, meta, this.payload]);
    return this.v2Binary;
  }

  /** The JSON form v1 clients get (`UserBroadcast.convert_to_json_broadcast`); null for raw binary payloads. */
  v1(): string | null {
    if (this.encoding === ENCODING_BINARY) return null;
    if (this.v1Text) return this.v1Text;
    const meta = this.metaJson ? `,"meta":${this.metaJson}` : "";
    const body = `{"type":"broadcast","event":${JSON.stringify(this.event)},"payload":${this.payload.toString("utf8")}${meta}}`;
    this.v1Text = `{"join_ref":null,"ref":null,"topic":${JSON.stringify(this.topic)},"event":"broadcast","payload":${body}}`;
    return this.v1Text;
  }

  /** Whether a 255-byte length field can describe this frame's strings; otherwise use text. */
  fitsBinary(): boolean {
    return (
      Buffer.byteLength(this.topic) <= 255 &&
      Buffer.byteLength(this.event) <= 255 &&
      Buffer.byteLength(this.metaJson) <= 255
    );
  }

  /** v2 text form, for frames too long for the binary header. */
  v2Text(): string | null {
    if (this.encoding === ENCODING_BINARY) return null;
    const meta = this.metaJson ? `,"meta":${this.metaJson}` : "";
    return `[null,null,${JSON.stringify(this.topic)},"broadcast",{"type":"broadcast","event":${JSON.stringify(this.event)},"payload":${this.payload.toString("utf8")}${meta}}]`;
  }
}
