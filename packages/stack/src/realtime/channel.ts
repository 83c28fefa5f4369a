import { randomUUID } from "node:crypto";
import type postgres from "postgres";
import type { Claims } from "../jwt.ts";
import type { StackKeys } from "../keys.ts";
import { type AuthContext, readPolicies, writePolicies } from "./authorization.ts";
import { type Hub, type Subscriber, tenantTopic } from "./broadcast.ts";
import {
  ENCODING_JSON,
  EVENTS,
  encodeText,
  type InboundMessage,
  OutboundBroadcast,
  type Vsn,
} from "./protocol.ts";
import { checkToken } from "./token.ts";

/** Settings shared by every channel of one realtime server. */
export interface RealtimeSettings {
  /** Delay before a join error reply (`CHANNEL_ERROR_BACKOFF_MS`, default 5 000 ms). */
  channelErrorBackoffMs: number;
  /** Per-client presence calls per window (`CLIENT_PRESENCE_MAX_CALLS` / `_WINDOW_MS`, default 5 / 30 000). */
  presenceRateLimit: { calls: number; windowMs: number };
  /** Largest broadcast / track payload in bytes (tenant `max_payload_size_in_kb` plus padding). */
  maxPayloadBytes: number;
}

/** What every channel needs from the server around it. */
export interface ChannelServer {
  hub: Hub;
  sql: postgres.Sql;
  keys: StackKeys;
  settings: RealtimeSettings;
  log(line: string): void;
}

/** What a channel needs from the socket it lives on. */
export interface ChannelHost {
  readonly vsn: Vsn;
  /** The connect-time token (`apikey`), used when a join carries none or an `sb_…` key. */
  readonly connectToken: string;
  readonly headers: Record<string, string>;
  sendRaw(frame: string | Buffer): void;
  /** Called once the channel has stopped (left, closed by the server, or refused). */
  channelStopped(channel: Channel): void;
}

/** Join-reply error reasons and system messages (supabase/realtime `realtime_channel.ex`). */
export const CHANNEL_ERRORS = {
  topicRequired: "TopicNameRequired: You must provide a topic name",
  unauthorized: (topic: string) => `You do not have permissions to read from this Channel topic: ${topic}`,
  readRevoked: (topic: string) => `You no longer have permission to read from this Channel topic: ${topic}`,
  replayPublic: "UnableToReplayMessages: Replay is not allowed for public channels",
  unknown: "Unknown Error on Channel",
  presenceRateLimit: "Client presence rate limit exceeded",
  trackSize: "Track message size exceeded",
  trackNotMap: "Presence track payload must be a map",
  dbUnavailable: "Realtime was unable to connect to the project database",
  /**
   * postgres_changes is not implemented by the local stack. Supabase answers a subscription it
   * cannot set up with this code (`@postgres_subscribe_error_code`); with a failed join
   * realtime-js reports CHANNEL_ERROR, so the gap is loud rather than silent.
   */
  postgresChanges:
    "RealtimeDisabledForConfiguration: postgres_changes is not supported by the Roomkit local stack; use broadcast from the database (realtime.broadcast_changes)",
} as const;

/** Broadcast errors in ack replies (DOCS protocol.mdx "Broadcast errors"). */
const PAYLOAD_SIZE_EXCEEDED = "payload_size_exceeded";

/** `Process.send_after` cap for the token re-check (`@confirm_token_ms_max_interval`). */
const CONFIRM_TOKEN_MAX_MS = 60 * 60 * 1000;

/** Most messages a replay may return (`Realtime.Messages.replay`, docs: 25 per request). */
const REPLAY_MAX = 25;

interface Policies {
  broadcastRead: boolean;
  presenceRead?: boolean;
  broadcastWrite?: boolean;
  presenceWrite?: boolean;
}

type State = "joining" | "joined" | "closed";

/** Flexible booleans: the server also accepts "true"/"false" strings (payloads/flexible_boolean.ex). */
function flag(value: unknown, fallback: boolean): boolean {
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  return fallback;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * One joined topic on one socket: the channel process of supabase/realtime. Messages for it
 * run in arrival order; database work (authorization) only happens at join, on the first
 * send/track of a private channel, and on `access_token`.
 */
export class Channel implements Subscriber {
  readonly subTopic: string;
  readonly vsn: Vsn;
  private state: State = "joining";
  private isPrivate = false;
  private selfBroadcast = false;
  private ackBroadcast = false;
  private presenceEnabled = false;
  private presenceKey = "";
  private accessToken = "";
  private claims: Claims = {};
  private policies: Policies | null = null;
  private hubTopic = "";
  private tokenTimer: NodeJS.Timeout | undefined;
  private presenceCalls = 0;
  private presenceWindowEnd = 0;
  private tail: Promise<void> | null = null;

  constructor(
    private readonly server: ChannelServer,
    private readonly host: ChannelHost,
    readonly topic: string,
    readonly joinRef: string,
  ) {
    this.subTopic = topic.slice("realtime:".length);
    this.vsn = host.vsn;
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  canReadBroadcast(): boolean {
    return this.state === "joined" && (!this.isPrivate || this.policies?.broadcastRead === true);
  }

  canReadPresence(): boolean {
    if (this.state !== "joined") return false;
    return !this.isPrivate || this.policies?.presenceRead === true;
  }

  sendRaw(frame: string | Buffer): void {
    this.host.sendRaw(frame);
  }

  /** Runs `task` after every earlier message of this channel; synchronous tasks run at once. */
  run(task: () => void | Promise<void>): void {
    const onError = (error: unknown) =>
      this.server.log(`channel ${this.topic}: ${(error as Error).stack ?? error}`);
    if (this.tail) {
      this.follow(this.tail.then(task).catch(onError));
      return;
    }
    try {
      const result = task();
      if (result) this.follow(result.catch(onError));
    } catch (error) {
      onError(error);
    }
  }

  private follow(p: Promise<void>): void {
    this.tail = p;
    void p.then(() => {
      if (this.tail === p) this.tail = null;
    });
  }

  private push(event: string, payload: unknown, ref: string | null = null): void {
    this.host.sendRaw(encodeText(this.vsn, this.joinRef, ref, this.topic, event, payload));
  }

  private reply(ref: string | null, status: "ok" | "error", response: unknown): void {
    this.push(EVENTS.reply, { status, response }, ref);
  }

  private authContext(): AuthContext {
    return {
      topic: this.subTopic,
      role: String(this.claims.role),
      claims: this.claims,
      headers: this.host.headers,
    };
  }

  /** Handles `phx_join`: validates the token and, for private channels, the read policies. */
  async join(msg: InboundMessage): Promise<void> {
    const payload = isRecord(msg.payload) ? msg.payload : {};
    const fail = async (reason: string) => {
      if (this.server.settings.channelErrorBackoffMs > 0)
        await new Promise((r) => setTimeout(r, this.server.settings.channelErrorBackoffMs));
      if (this.state === "closed") return;
      this.state = "closed";
      this.reply(msg.ref, "error", { reason });
      this.host.channelStopped(this);
    };
    if (this.subTopic === "") return fail(CHANNEL_ERRORS.topicRequired);

    const config = isRecord(payload.config) ? payload.config : {};
    const broadcast = isRecord(config.broadcast) ? config.broadcast : {};
    const presence = isRecord(config.presence) ? config.presence : {};
    this.isPrivate = flag(config.private, false);
    this.selfBroadcast = flag(broadcast.self, false);
    this.ackBroadcast = flag(broadcast.ack, false);
    this.presenceEnabled = flag(presence.enabled, false);
    this.presenceKey = typeof presence.key === "string" && presence.key !== "" ? presence.key : randomUUID();

    const token = payload.access_token ?? payload.user_token;
    this.accessToken = typeof token === "string" && !token.startsWith("sb_") ? token : this.host.connectToken;
    const checked = await checkToken(this.accessToken, this.server.keys);
    if (!checked.ok) return fail(`${checked.code}: ${checked.message}`);
    this.claims = checked.claims;

    if (Array.isArray(config.postgres_changes) && config.postgres_changes.length > 0)
      return fail(CHANNEL_ERRORS.postgresChanges);

    if (this.isPrivate) {
      try {
        const read = await readPolicies(this.server.sql, this.authContext(), this.presenceEnabled);
        this.policies = {
          broadcastRead: read.broadcastRead,
          presenceRead: this.presenceEnabled ? read.presenceRead : undefined,
        };
      } catch (error) {
        this.server.log(`RlsPolicyError on ${this.subTopic}: ${(error as Error).message}`);
        this.policies = { broadcastRead: false, presenceRead: false };
      }
      if (!this.policies.broadcastRead && !this.policies.presenceRead)
        return fail(`Unauthorized: ${CHANNEL_ERRORS.unauthorized(this.subTopic)}`);
    }
    const replay = isRecord(broadcast.replay) ? broadcast.replay : undefined;
    if (replay && !this.isPrivate) return fail(CHANNEL_ERRORS.replayPublic);
    if (this.state === "closed") return;

    this.state = "joined";
    this.hubTopic = tenantTopic(this.subTopic, this.isPrivate);
    this.server.hub.subscribe(this.hubTopic, this);
    this.armTokenTimer(checked.claims.exp);
    this.reply(msg.ref, "ok", { postgres_changes: [] });
    if (replay && this.policies?.broadcastRead) await this.replay(replay);
    if (this.presenceEnabled && this.canReadPresence()) this.pushPresenceState();
  }

  private async replay(params: Record<string, unknown>): Promise<void> {
    const since = Number(params.since ?? 0);
    const limit = Math.min(REPLAY_MAX, Math.max(1, Number(params.limit ?? REPLAY_MAX)));
    const rows = await this.server.sql<{ id: string; event: string; payload: unknown }[]>`
      select id, event, payload from realtime.messages
      where topic = ${this.subTopic} and private is true and extension = 'broadcast'
        and payload is not null and inserted_at >= to_timestamp(${since / 1000})::timestamp
      order by inserted_at asc limit ${limit}`;
    for (const row of rows) {
      this.push(EVENTS.broadcast, {
        type: "broadcast",
        event: row.event,
        payload: row.payload,
        meta: { replayed: true, id: row.id },
      });
    }
  }

  private pushPresenceState(): void {
    this.push(EVENTS.presenceState, this.server.hub.presenceOf(this.hubTopic).state());
  }

  private armTokenTimer(exp: number): void {
    clearTimeout(this.tokenTimer);
    const ms = Math.min(CONFIRM_TOKEN_MAX_MS, Math.max(0, exp * 1000 - Date.now()));
    this.tokenTimer = setTimeout(() => this.run(() => this.confirmToken()), ms);
    this.tokenTimer.unref();
  }

  /** The periodic re-check of the channel's token (`handle_info(:confirm_token, …)`). */
  private async confirmToken(): Promise<void> {
    if (this.state !== "joined") return;
    const checked = await checkToken(this.accessToken, this.server.keys);
    if (!checked.ok) return this.shutdown(checked.message);
    this.armTokenTimer(checked.claims.exp);
  }

  /** Dispatches a message for this joined channel. */
  handle(msg: InboundMessage): void | Promise<void> {
    if (this.state !== "joined") return;
    switch (msg.event) {
      case EVENTS.broadcast:
        return this.handleBroadcast(msg);
      case EVENTS.presence:
        return this.handlePresence(msg);
      case EVENTS.accessToken:
        return this.handleAccessToken(msg);
      case EVENTS.leave:
        this.reply(msg.ref, "ok", {});
        this.stop(true);
        return;
      default:
        // Supabase logs unexpected client messages and does not answer them.
        return;
    }
  }

  private frameFrom(msg: InboundMessage): OutboundBroadcast | null {
    if (msg.userBroadcast) {
      const b = msg.userBroadcast;
      return new OutboundBroadcast(this.topic, b.event, b.payload, b.encoding);
    }
    const p = msg.payload;
    if (!isRecord(p) || typeof p.event !== "string") return null;
    const body = Buffer.from(JSON.stringify(p.payload ?? {}));
    return new OutboundBroadcast(this.topic, p.event, body, ENCODING_JSON);
  }

  private handleBroadcast(msg: InboundMessage): void | Promise<void> {
    if (this.isPrivate && this.policies?.broadcastWrite === undefined)
      return this.ensureWrite().then(() => this.handleBroadcast(msg));
    // No write permission: dropped without a reply, even with ack (broadcast_handler.ex).
    if (this.isPrivate && !this.policies?.broadcastWrite) return;
    const frame = this.frameFrom(msg);
    if (!frame) return;
    if (frame.payload.length > this.server.settings.maxPayloadBytes) {
      if (this.ackBroadcast) this.reply(msg.ref, "error", { error: PAYLOAD_SIZE_EXCEEDED });
      return;
    }
    this.server.hub.publish(this.hubTopic, frame, this.selfBroadcast ? undefined : this);
    if (this.ackBroadcast) this.reply(msg.ref, "ok", {});
  }

  private async ensureWrite(): Promise<void> {
    if (!this.policies) return;
    try {
      const write = await writePolicies(this.server.sql, this.authContext());
      this.policies.broadcastWrite = write.broadcastWrite;
      this.policies.presenceWrite = write.presenceWrite;
    } catch (error) {
      this.server.log(`RlsPolicyError (write) on ${this.subTopic}: ${(error as Error).message}`);
      this.policies.broadcastWrite = false;
      this.policies.presenceWrite = false;
    }
  }

  /** The per-client presence limit (`assign_client_presence_rate_limit`): true when exceeded. */
  private presenceLimited(): boolean {
    const now = Date.now();
    if (now >= this.presenceWindowEnd) {
      this.presenceCalls = 0;
      this.presenceWindowEnd = now + this.server.settings.presenceRateLimit.windowMs;
    }
    this.presenceCalls += 1;
    return this.presenceCalls > this.server.settings.presenceRateLimit.calls;
  }

  private async handlePresence(msg: InboundMessage): Promise<void> {
    const p = isRecord(msg.payload) ? msg.payload : {};
    const event = typeof p.event === "string" ? p.event.toLowerCase() : "";
    if (this.presenceLimited()) return this.shutdown(CHANNEL_ERRORS.presenceRateLimit);
    if (this.isPrivate && this.policies) {
      if (this.policies.presenceWrite === undefined) await this.ensureWrite();
      if (this.state !== "joined") return;
      if (!this.policies.presenceWrite) return this.reply(msg.ref, "error", {});
    }
    const presence = this.server.hub.presenceOf(this.hubTopic);
    if (event === "track") {
      if (!isRecord(p.payload)) return this.reply(msg.ref, "error", { reason: CHANNEL_ERRORS.trackNotMap });
      if (Buffer.byteLength(JSON.stringify(p.payload)) > this.server.settings.maxPayloadBytes)
        return this.shutdown(CHANNEL_ERRORS.trackSize);
      const enabling = !this.presenceEnabled;
      if (enabling) {
        // A track enables presence on a channel joined without it (presence_handler.ex).
        this.presenceEnabled = true;
        if (this.isPrivate && this.policies && this.policies.presenceRead === undefined) {
          try {
            this.policies.presenceRead = (
              await readPolicies(this.server.sql, this.authContext(), true)
            ).presenceRead;
          } catch {
            this.policies.presenceRead = false;
          }
          if (this.state !== "joined") return;
        }
      }
      const diff = presence.track(this, this.presenceKey, p.payload);
      this.reply(msg.ref, "ok", {});
      if (enabling && this.canReadPresence()) this.pushPresenceState();
      if (diff) this.server.hub.publishPresenceDiff(this.hubTopic, this.topic, diff);
      return;
    }
    if (event === "untrack") {
      const diff = presence.untrack(this);
      this.reply(msg.ref, "ok", {});
      if (diff) this.server.hub.publishPresenceDiff(this.hubTopic, this.topic, diff);
      return;
    }
    this.reply(msg.ref, "error", {});
  }

  /** `access_token`: swap the token without a reply; re-check it and the read policies. */
  private async handleAccessToken(msg: InboundMessage): Promise<void> {
    const token = isRecord(msg.payload) ? msg.payload.access_token : undefined;
    if (typeof token !== "string" || token.startsWith("sb_") || token === this.accessToken) return;
    this.accessToken = token;
    const checked = await checkToken(token, this.server.keys);
    if (this.state !== "joined") return;
    if (!checked.ok) return this.shutdown(checked.message);
    this.claims = checked.claims;
    this.armTokenTimer(checked.claims.exp);
    if (!this.isPrivate || !this.policies) return;
    const previous = this.policies;
    let read: { broadcastRead: boolean; presenceRead: boolean };
    try {
      read = await readPolicies(this.server.sql, this.authContext(), this.presenceEnabled);
    } catch (error) {
      this.server.log(`RlsPolicyError on ${this.subTopic}: ${(error as Error).message}`);
      read = { broadcastRead: false, presenceRead: false };
    }
    if (this.state !== "joined") return;
    const presenceRead = this.presenceEnabled ? read.presenceRead : undefined;
    this.policies = { broadcastRead: read.broadcastRead, presenceRead };
    // Both reads gone: the join-time Unauthorized text; one of them gone: "no longer" text
    // (`maybe_assign_policies` runs before `check_read_permissions_revoked`).
    if (!read.broadcastRead && !presenceRead)
      return this.shutdown(CHANNEL_ERRORS.unauthorized(this.subTopic));
    if ((previous.broadcastRead && !read.broadcastRead) || (previous.presenceRead && presenceRead === false))
      return this.shutdown(CHANNEL_ERRORS.readRevoked(this.subTopic));
  }

  /** Server-side stop with a reason: `system` error then `phx_close` (`shutdown_response`). */
  shutdown(message: string): void {
    if (this.state !== "joined") return;
    this.push(EVENTS.system, { extension: "system", status: "error", message, channel: this.subTopic });
    this.stop(true);
  }

  /**
   * Stops the channel: leaves presence and the hub. `notify` sends `phx_close` (not wanted when
   * the socket itself is gone).
   */
  stop(notify: boolean): void {
    if (this.state === "closed") return;
    const wasJoined = this.state === "joined";
    this.state = "closed";
    clearTimeout(this.tokenTimer);
    if (wasJoined) {
      this.server.hub.unsubscribe(this.hubTopic, this);
      const diff = this.server.hub.presenceOf(this.hubTopic).untrack(this);
      if (diff) this.server.hub.publishPresenceDiff(this.hubTopic, this.topic, diff);
      this.server.hub.prunePresence(this.hubTopic);
    }
    if (notify)
      this.host.sendRaw(encodeText(this.vsn, this.joinRef, this.joinRef, this.topic, EVENTS.close, {}));
    this.host.channelStopped(this);
  }
}
