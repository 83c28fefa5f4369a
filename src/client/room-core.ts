/**
 * The shared core of a live room (one per supabase client and room; `RoomSession` handles share it):
 * messages delivered exactly once in server order (with backfill after every
 * reconnect), membership changes and AI replies from the receive-only private topic `room:<id>`;
 * presence, typing, speaking and emoji bursts on the members' private topic `room:<id>:live`.
 */
import type { RealtimeChannel } from "@supabase/supabase-js";
import { DB_EVENTS, roomLiveTopic, roomTopic } from "../../functions/_shared/contract.ts";
import { AiReplies, type AiReply } from "./ai-stream.ts";
import { type Clock, systemClock, type TimerHandle } from "./clock.ts";
import type { CoworkingClient } from "./coworking.ts";
import { Delivery } from "./delivery.ts";
import { Emitter } from "./emitter.ts";
import { RoomkitError, RoomkitRealtimeError } from "./errors.ts";
import { ExitWatch } from "./exit.ts";
import { type EmojiBurst, LiveSignals, type OnlineUser } from "./live-signals.ts";
import type { MessagesClient } from "./messages.ts";
import { encodeCursor } from "./order.ts";
import { joinChannel, oldRecordOf, recordOf } from "./realtime.ts";
import { type ChannelEnd, type ChannelKind, type ChannelPort, RoomChannels } from "./room-channels.ts";
import { Roster } from "./roster.ts";
import {
  emoji as emojiSchema,
  type Invite,
  type Member,
  type Message,
  type Reaction,
  type Room,
} from "./schemas.ts";
import { type Db, fail, ok, query, type Result, ROOMKIT_SCHEMA, validate } from "./transport.ts";

/**
 * Why a session ended.
 *
 * @example
 * session.on("closed", ({ reason }) => {
 *   if (reason === "token_expired") promptSignIn();
 * });
 */
export type CloseReason =
  /** I left the room (here or on another device). */
  | "left"
  /** Someone removed me, or my membership ended without me leaving. */
  | "removed"
  /** The room was deleted. */
  | "room_deleted"
  /** The server refused me (signed out, or no longer allowed on the channel). */
  | "unauthorized"
  /** My access token expired and was not refreshed in time. */
  | "token_expired"
  /** `session.close()` was called. */
  | "closed";

/**
 * Connection state: `live` while joined, `reconnecting` while realtime-js is getting back.
 *
 * @example
 * session.on("status", (status) => setBanner(status === "reconnecting" ? "Reconnecting…" : null));
 */
export type ConnectionStatus = "live" | "reconnecting";

export type { EmojiBurst, OnlineUser } from "./live-signals.ts";

/**
 * Every event a session emits, with its arguments.
 *
 * @example
 * type MessageArgs = RoomSessionEvents["message"]; // [Message]
 * session.on("typing", (userIds) => setTyping(userIds));
 */
export interface RoomSessionEvents {
  /** A message new to this session, live or backfilled after a reconnect; exactly once per id. */
  message: [Message];
  /** A message changed (deleted: `deleted_at` set, body null). */
  message_updated: [Message];
  reaction_added: [Reaction];
  reaction_removed: [Reaction];
  /** Someone joined (or rejoined) the room. */
  member_joined: [Member];
  /** Someone left or was removed. */
  member_left: [Member];
  /** A member's role, mic or voice state changed. */
  member_updated: [Member];
  room_updated: [Room];
  /** An invite to this room changed status (accepted, declined, revoked). */
  invite_updated: [Invite];
  /** Who is online now (every change). */
  presence: [OnlineUser[]];
  /** Ids of the users typing now (every change). */
  typing: [string[]];
  /** Ids of the users speaking now (every change). */
  speaking: [string[]];
  emoji_burst: [EmojiBurst];
  /** An AI reply grew, finished or failed. When done, its persisted message arrives as `message`. */
  ai_reply: [AiReply];
  status: [ConnectionStatus];
  /** A backfill after a reconnect or token refresh finished; `added` messages were missed live. */
  resynced: [{ added: number }];
  /** Something failed in the background (a backfill that will be retried, a lost presence update). */
  error: [RoomkitError];
  /** The session ended; no event follows. */
  closed: [{ reason: CloseReason; error?: RoomkitError }];
}

/** Every event name of {@link RoomSessionEvents}, for code that forwards them all. */
export const SESSION_EVENTS = [
  "message",
  "message_updated",
  "reaction_added",
  "reaction_removed",
  "member_joined",
  "member_left",
  "member_updated",
  "room_updated",
  "invite_updated",
  "presence",
  "typing",
  "speaking",
  "emoji_burst",
  "ai_reply",
  "status",
  "resynced",
  "error",
  "closed",
] as const satisfies readonly (keyof RoomSessionEvents)[];

/**
 * Options of `roomkit.openRoom`.
 *
 * @example
 * const { data: session } = await roomkit.openRoom(roomId, { historyLimit: 30, status: "focus" });
 */
export interface RoomSessionOptions {
  /** Newest messages loaded on open. Default 50, at most 100. */
  historyLimit?: number;
  /** Presence status to start with. Default `online`. */
  status?: string;
  /**
   * How far before the last message seen a backfill starts, in ms. Default 10 000.
   * See `RoomSession` for why there is an overlap at all.
   */
  backfillOverlapMs?: number;
  /**
   * Coworking rooms: how often the session tells the server I am still here, in ms. Default 15 000;
   * the server lets a participant go after `participant_timeout_seconds` (default 45) of silence.
   */
  heartbeatIntervalMs?: number;
}

const DEFAULT_HISTORY = 50;
/** Default heartbeat of an open coworking session (ms): two may be lost before the 45 s timeout. */
const DEFAULT_HEARTBEAT_MS = 15_000;
/**
 * At most one token-refresh backfill per this many ms. auth-js refreshes inside `getSession()`
 * whenever the token is near expiry, and a backfill calls `getSession()`: with tokens shorter-lived
 * than auth-js's expiry margin, refresh → backfill → refresh would never stop.
 */
const REFRESH_BACKFILL_INTERVAL_MS = 10_000;

/** Context a session gets from the client that opens it. @internal */
export interface SessionDeps {
  db: Db;
  messages: MessagesClient;
  coworking: CoworkingClient;
  userId: string;
  onClosed(core: RoomCore): void;
  /** Time and timers (default: the real ones). */
  clock?: Clock;
}

/**
 * One live room on one supabase client, composed of parts that can each be read alone:
 * {@link RoomChannels} (both topics, rejoin, epochs, refusals), {@link Delivery} (ordered,
 * exactly-once messages with backfill), {@link ExitWatch} (left or removed), {@link LiveSignals}
 * (presence, typing, speaking, bursts) and the {@link Roster}. This class routes events between
 * them, keeps the room row and the heartbeat, and owns the session's end.
 * Apps never see it: `openRoom` hands out `RoomSession` handles over it, because realtime-js keeps
 * one channel per topic per client (a second join of the same topic would reuse the joined channel
 * and throw when bound again).
 * @internal
 */
export class RoomCore {
  readonly roomId: string;
  readonly userId: string;
  private readonly db: Db;
  private readonly deps: SessionDeps;
  private readonly clock: Clock;
  private readonly emitter = new Emitter<RoomSessionEvents>();
  private readonly delivery: Delivery;
  private readonly channels: RoomChannels<RealtimeChannel>;
  private readonly exit: ExitWatch;
  private readonly ai = new AiReplies();
  private readonly roster: Roster;
  private readonly live: LiveSignals;
  private readonly heartbeatMs: number;
  private roomRow: Room | undefined;
  private historyStart = false;
  private closedReason: CloseReason | undefined;
  private ending: Promise<void> | undefined;
  private heartbeatTimer: TimerHandle | undefined;
  private lastRefreshBackfill = Number.NEGATIVE_INFINITY;
  private authSubscription: { unsubscribe(): void } | undefined;

  /** @internal use `roomkit.openRoom` */
  constructor(roomId: string, deps: SessionDeps, options: RoomSessionOptions) {
    this.roomId = roomId;
    this.userId = deps.userId;
    this.db = deps.db;
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.heartbeatMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
    this.roster = new Roster(deps.db, roomId);
    const closed = () => this.closedReason !== undefined;
    this.delivery = new Delivery(
      {
        listAfter: (from, limit) => deps.messages.listAfter(roomId, from, limit),
        onMessage: (row) => this.announce(row),
        onUpdated: (row) => this.emitter.emit("message_updated", row),
        onResynced: (added) => this.emitter.emit("resynced", { added }),
        onError: (error) => this.emitter.emit("error", error),
        closed,
      },
      {
        clock: this.clock,
        ...(options.backfillOverlapMs === undefined ? {} : { overlapMs: options.backfillOverlapMs }),
      },
    );
    this.exit = new ExitWatch(deps.userId, (reason) => void this.end(reason), this.clock);
    this.channels = new RoomChannels({
      port: this.channelPort(),
      topic: (kind, epoch) => (kind === "events" ? roomTopic(roomId, epoch) : roomLiveTopic(roomId, epoch)),
      readEpoch: async () => (await this.readRoom()).data?.epoch,
      onLive: (kind) => this.onLive(kind),
      onReconnecting: () => this.emitter.emit("status", "reconnecting"),
      onEnd: (reason, error) => void this.end(this.closeReasonFor(reason), error),
      closed,
      clock: this.clock,
    });
    this.live = new LiveSignals(
      {
        userId: deps.userId,
        channel: () => this.channels.get("live"),
        member: (userId) => this.roster.get(userId),
        onPresence: (online) => this.emitter.emit("presence", online),
        onTyping: (ids) => this.emitter.emit("typing", ids),
        onSpeaking: (ids) => this.emitter.emit("speaking", ids),
        onBurst: (burst) => this.emitter.emit("emoji_burst", burst),
        onError: (error) => this.emitter.emit("error", error),
        closed,
        clock: this.clock,
      },
      options.status === undefined ? {} : { status: options.status },
    );
  }

  /** @internal Joins both channels, loads the newest page and my profile, starts presence. */
  static async open(
    roomId: string,
    deps: SessionDeps,
    options: RoomSessionOptions,
  ): Promise<Result<RoomCore>> {
    const session = new RoomCore(roomId, deps, options);
    // The room first (its epoch names the topics), then join, then read history: a message committed
    // in between is in the page or arrives live (or both; ids dedupe).
    const room = await session.readRoom();
    if (room.error) return room;
    const joined = await session.channels.connect();
    if (joined.error) return joined;
    const loaded = await session.loadInitial(Math.min(options.historyLimit ?? DEFAULT_HISTORY, 100));
    if (loaded.error) {
      await session.shutdown();
      return loaded;
    }
    session.watchAuth();
    session.startHeartbeat();
    session.live.publish();
    return ok(session);
  }

  /** The room as last seen (name, AI mode …). */
  get room(): Room {
    return this.roomRow!;
  }

  /** Messages held, oldest first, in the server's order (created_at, id), one per id. */
  get messages(): readonly Message[] {
    return this.delivery.messages;
  }

  /** Who is online now. */
  get onlineUsers(): readonly OnlineUser[] {
    return this.live.online;
  }

  /** Ids of users typing now. */
  get typingUsers(): string[] {
    return this.live.typingUsers;
  }

  /** Ids of users speaking now. */
  get speakingUsers(): string[] {
    return this.live.speakingUsers;
  }

  /** AI replies still being written. */
  get aiReplies(): AiReply[] {
    return this.ai.active;
  }

  /** True when `loadOlder` has reached the room's first message. */
  get reachedStart(): boolean {
    return this.historyStart;
  }

  /** Set once the session has ended. */
  get closeReason(): CloseReason | undefined {
    return this.closedReason;
  }

  /**
   * Listens to a session event; returns a function that stops listening (or use `off`).
   *
   * @example
   * const stop = session.on("presence", (online) => setOnline(online));
   * stop();
   */
  on<K extends keyof RoomSessionEvents>(
    event: K,
    listener: (...args: RoomSessionEvents[K]) => void,
  ): () => void {
    if (typeof listener !== "function")
      throw new TypeError(`on("${String(event)}"): listener must be a function`);
    return this.emitter.on(event, listener);
  }

  /**
   * Stops a listener added with `on`.
   *
   * @example
   * session.off("message", render);
   */
  off<K extends keyof RoomSessionEvents>(event: K, listener: (...args: RoomSessionEvents[K]) => void): void {
    this.emitter.off(event, listener);
  }

  /**
   * Sends a text message (and clears my typing indicator). It reaches this session as a
   * `message` event like everyone else's.
   *
   * @example
   * const { error } = await session.send("On my way");
   */
  async send(text: string): Promise<Result<Message>> {
    this.stopTyping();
    return this.ingestOwn(await this.deps.messages.send(this.roomId, text));
  }

  /**
   * Sends an emoji message (stored, unlike `sendBurst`).
   *
   * @example
   * await session.sendEmoji("🎉");
   */
  async sendEmoji(value: string): Promise<Result<Message>> {
    return this.ingestOwn(await this.deps.messages.sendEmoji(this.roomId, value));
  }

  /**
   * Loads the page of history before the oldest message held; returns it oldest first.
   *
   * @example
   * const { data: older } = await session.loadOlder(30);
   * if (session.reachedStart) hideLoadMore();
   */
  async loadOlder(limit = DEFAULT_HISTORY): Promise<Result<Message[]>> {
    const oldest = this.delivery.log.oldest;
    if (!oldest) {
      this.historyStart = true;
      return ok([]);
    }
    const page = await this.deps.messages.list(this.roomId, { before: encodeCursor(oldest), limit });
    if (page.error) return page;
    const added = page.data.messages.filter((m) => this.delivery.store(m)).reverse();
    if (page.data.next_cursor === null) this.historyStart = true;
    return ok(added);
  }

  /**
   * Call on every keystroke: others see me typing. Broadcasts at most once per 2 s and never uses
   * presence (Supabase closes channels that make more than 5 presence calls in 30 s).
   *
   * @example
   * textarea.addEventListener("input", () => session.typing());
   */
  typing(): void {
    if (this.closedReason) return;
    this.live.typing();
  }

  /**
   * Clears my typing indicator for others now (otherwise it expires 5 s after the last keystroke).
   *
   * @example
   * textarea.addEventListener("blur", () => session.stopTyping());
   */
  stopTyping(): void {
    this.live.stopTyping();
  }

  /**
   * Tells others whether I am speaking (from voice activity detection). Broadcast on every change,
   * refreshed every 2 s while speaking, so a lost "stopped" expires after 5 s.
   *
   * @example
   * vad.on("speech", (on) => session.setSpeaking(on));
   */
  setSpeaking(speaking: boolean): void {
    if (this.closedReason) return;
    this.live.setSpeaking(speaking);
  }

  /**
   * Sends a fleeting emoji burst to everyone in the room (not stored; for a stored one use `sendEmoji`).
   *
   * @example
   * session.sendBurst("👏");
   */
  sendBurst(value: string): Result<null> {
    const valid = validate(emojiSchema, value);
    if (valid.error) return valid;
    this.live.burst(value);
    return ok(null);
  }

  /**
   * Updates what others see of me in presence. Updates are spaced to stay within Supabase's
   * presence limit (the latest state always goes out).
   *
   * @example
   * session.setPresence({ status: "away" });
   */
  setPresence(changes: { status?: string }): void {
    if (this.closedReason) return;
    this.live.setPresence(changes);
  }

  /**
   * Turns my microphone on or off in a coworking room: stored (others get `member_updated`) and
   * mirrored in presence.
   *
   * @example
   * await session.setMic(true);
   */
  async setMic(enabled: boolean): Promise<Result<Member>> {
    const result = await this.deps.coworking.setMic(this.roomId, enabled);
    if (result.error) return result;
    this.live.setPresence({ mic_enabled: result.data.mic_enabled });
    return ok(result.data as Member);
  }

  /**
   * Adds my reaction to a message of this room.
   *
   * @example
   * await session.react(message.id, "❤️");
   */
  react(messageId: string, value: string): Promise<Result<null>> {
    return this.deps.messages.react(messageId, value);
  }

  /**
   * Removes my reaction.
   *
   * @example
   * await session.unreact(message.id, "❤️");
   */
  unreact(messageId: string, value: string): Promise<Result<null>> {
    return this.deps.messages.unreact(messageId, value);
  }

  /**
   * Deletes one of my messages; everyone gets `message_updated`.
   *
   * @example
   * await session.deleteMessage(message.id);
   */
  deleteMessage(messageId: string): Promise<Result<Message>> {
    return this.deps.messages.delete(messageId);
  }

  /**
   * Marks everything up to the newest message held as read.
   *
   * @example
   * window.addEventListener("focus", () => session.markRead());
   */
  markRead(): Promise<Result<null>> {
    const newest = this.delivery.messages[this.delivery.messages.length - 1];
    return this.deps.messages.markRead(this.roomId, newest?.created_at);
  }

  /**
   * Leaves the room for good (coworking: gives up the seat) and ends the session with reason `left`.
   *
   * @example
   * await session.leave();
   */
  async leave(): Promise<Result<null>> {
    this.expectLeave();
    const result =
      this.roomRow?.kind === "coworking"
        ? await this.deps.coworking.leave(this.roomId)
        : await query<null>(this.db.schema(ROOMKIT_SCHEMA).rpc("leave_room", { room_id: this.roomId }));
    if (result.error) {
      this.exit.leaveFailed();
      return result;
    }
    await this.end("left");
    return ok(null);
  }

  /**
   * Ends the session (the room stays; open it again any time).
   *
   * @example
   * onUnmount(() => session.close());
   */
  async close(): Promise<void> {
    await this.end("closed");
  }

  /** @internal The client is about to leave this room through another sub-client. */
  expectLeave(): void {
    this.exit.expectLeave();
  }

  /** The realtime-js side of {@link RoomChannels}: options and listeners per kind of channel. */
  private channelPort(): ChannelPort<RealtimeChannel> {
    return {
      join: (kind, topic, hooks) =>
        joinChannel(
          this.db,
          topic,
          kind === "events"
            ? { config: { private: true } }
            : // Presence key = user id, so several tabs of one user are one online user.
              { config: { private: true, broadcast: { self: false }, presence: { key: this.userId } } },
          (channel) => {
            this.bind(kind, channel);
            channel.on("system", {}, (p: { status?: string; message?: string }) => {
              if (p.status === "error" && typeof p.message === "string") hooks.onSystemError(p.message);
            });
          },
          { onStatus: hooks.onStatus },
        ),
      remove: async (channel) => {
        await this.db.removeChannel(channel);
      },
    };
  }

  private bind(kind: ChannelKind, channel: RealtimeChannel): void {
    if (kind === "events") {
      channel.on("broadcast", { event: "*" }, (m) => this.routeEvent(m.event, m.payload));
    } else {
      channel.on("broadcast", { event: "*" }, (m) => this.live.route(m.event, m.payload));
      // A replaced channel's late sync must not overwrite who is online.
      channel.on(
        "presence",
        { event: "sync" },
        () => channel === this.channels.get("live") && this.live.sync(),
      );
    }
  }

  /**
   * A channel joined again. Only `room:<id>` drives `status` and backfill (it carries what must not
   * be missed); a rejoined `room:<id>:live` re-publishes my presence.
   */
  private onLive(kind: ChannelKind): void {
    if (kind === "live") {
      this.live.publish();
      return;
    }
    this.emitter.emit("status", "live");
    void this.delivery.backfill();
    // Membership changes missed while away: the roster decides whose presence and signals count.
    void this.roster.load();
    // A rename sent while the new topic was being joined is in the row, not in history.
    void this.refreshRoom();
  }

  /** Re-reads the room row after a rejoin; a change missed meanwhile becomes `room_updated`. */
  private async refreshRoom(): Promise<void> {
    const before = this.roomRow;
    const room = await this.readRoom();
    if (!room.data || !before || this.closedReason) return;
    const fields = ["name", "description", "ai_mode", "status", "capacity"] as const;
    if (fields.some((f) => before[f] !== room.data[f])) this.emitter.emit("room_updated", room.data);
  }

  /** A revocation is the end of my membership: I left (if I was leaving) or was removed. */
  private closeReasonFor(reason: ChannelEnd): CloseReason {
    return reason === "revoked" ? this.exit.reasonFor("removed") : reason;
  }

  /**
   * The room moved to a new epoch (a membership ended): join its new topics and catch up from
   * history. Not while my own exit is under way: the new topics would refuse me anyway.
   */
  private moveTo(epoch: number): void {
    if (this.closedReason || this.exit.pending || this.exit.leaving) return;
    this.channels.moveTo(epoch);
  }

  /** Reads the room row (name, AI mode, epoch …). */
  private async readRoom(): Promise<Result<Room>> {
    const room = await query<Room | null>(
      this.db.schema(ROOMKIT_SCHEMA).from("rooms").select("*").eq("id", this.roomId).maybeSingle(),
    );
    if (room.error) return room;
    if (!room.data) return fail(new RoomkitError("room_not_found", "Room not found"));
    this.roomRow = room.data;
    this.channels.adopt(room.data.epoch);
    return ok(room.data);
  }

  private async loadInitial(limit: number): Promise<Result<null>> {
    const [page, profile, roster] = await Promise.all([
      this.deps.messages.list(this.roomId, { limit }),
      query<{ display_name: string } | null>(
        this.db
          .schema(ROOMKIT_SCHEMA)
          .from("profiles")
          .select("display_name")
          .eq("id", this.userId)
          .maybeSingle(),
      ),
      this.roster.load(),
    ]);
    if (page.error) return page;
    if (roster.error) return roster;
    for (const m of page.data.messages) this.delivery.store(m);
    this.historyStart = page.data.next_cursor === null;
    this.live.setDisplayName(profile.data?.display_name ?? "");
    return ok(null);
  }

  private watchAuth(): void {
    const { data } = this.db.auth.onAuthStateChange((event) => {
      // supabase-js itself forwards new tokens to Realtime (SupabaseClient._handleTokenChanged ->
      // realtime.setAuth, which pushes `access_token` to joined channels). We only catch up, outside
      // the auth callback (auth-js holds its lock while calling it).
      if (event === "TOKEN_REFRESHED") {
        const now = this.clock.now();
        if (now - this.lastRefreshBackfill < REFRESH_BACKFILL_INTERVAL_MS) return;
        this.lastRefreshBackfill = now;
        this.clock.setTimeout(() => void this.delivery.backfill(), 0);
      }
      if (event === "SIGNED_OUT") {
        this.clock.setTimeout(
          () => void this.end("unauthorized", new RoomkitRealtimeError("unauthorized", "Signed out")),
          0,
        );
      }
    });
    this.authSubscription = data.subscription;
  }

  /**
   * Events of `room:<id>`: database changes and AI replies (no client can send there). Only this
   * topic's handler reads `DB_EVENTS`: members may send on `room:<id>:live`, so anything arriving
   * there is a claim by some member, never a database event.
   */
  private routeEvent(event: string, payload: unknown): void {
    if (this.closedReason) return;
    switch (event) {
      case DB_EVENTS.messageInsert:
      case DB_EVENTS.messageUpdate: {
        const row = recordOf<Message>(payload);
        if (row) this.delivery.accept(row, event === DB_EVENTS.messageUpdate);
        return;
      }
      case DB_EVENTS.reactionInsert: {
        const row = recordOf<Reaction>(payload);
        if (row) this.emitter.emit("reaction_added", row);
        return;
      }
      case DB_EVENTS.reactionDelete: {
        const row = oldRecordOf<Reaction>(payload);
        if (row) this.emitter.emit("reaction_removed", row);
        return;
      }
      case DB_EVENTS.memberInsert:
      case DB_EVENTS.memberUpdate:
        this.acceptMember(recordOf<Member>(payload), oldRecordOf<Member>(payload));
        return;
      case DB_EVENTS.roomUpdate: {
        const row = recordOf<Room>(payload);
        if (row) {
          this.roomRow = row;
          this.emitter.emit("room_updated", row);
          this.moveTo(row.epoch);
        }
        return;
      }
      case DB_EVENTS.roomDelete:
        void this.end(this.exit.reasonFor("room_deleted"));
        return;
      case DB_EVENTS.inviteUpdate: {
        const row = recordOf<Invite>(payload);
        if (row) this.emitter.emit("invite_updated", row);
        return;
      }
      default: {
        const reply = this.ai.handle(event, payload);
        if (reply) this.emitter.emit("ai_reply", reply);
      }
    }
  }

  /** A message new to this session, in order (from {@link Delivery}). */
  private announce(row: Message): void {
    if (row.sender_id) this.live.messageFrom(row.sender_id);
    this.emitter.emit("message", row);
    this.settleAiReply(row);
    this.exit.systemMessage(row);
  }

  /** My own sends are known at once (the broadcast copy is de-duplicated by id). */
  private ingestOwn(result: Result<Message>): Result<Message> {
    if (result.data) this.delivery.accept(result.data);
    return result;
  }

  /** The persisted AI message replaces the growing reply (when it beat `ai.done` here). */
  private settleAiReply(row: Message): void {
    if (row.kind !== "ai") return;
    const reply = this.ai.complete(row);
    if (reply) this.emitter.emit("ai_reply", reply);
  }

  private acceptMember(row: Member | undefined, old: Member | undefined): void {
    if (!row) return;
    void this.roster.apply(row).then(() => this.live.sync());
    const wasActive = old ? old.left_at === null : false;
    const isActive = row.left_at === null;
    if (isActive && !wasActive) this.emitter.emit("member_joined", row);
    else if (!isActive && wasActive) this.emitter.emit("member_left", row);
    else this.emitter.emit("member_updated", row);
    if (!isActive && wasActive) {
      this.live.memberLeft(row.user_id);
      if (row.user_id === this.userId) this.exit.membershipEnded();
    }
  }

  /** Ends the session once; every later call (and `close`) waits for that same ending. */
  private end(reason: CloseReason, error?: RoomkitError): Promise<void> {
    if (this.ending) return this.ending;
    this.closedReason = reason;
    this.exit.cancel();
    this.ending = (async () => {
      await this.shutdown();
      this.deps.onClosed(this);
      this.emitter.emit("closed", error ? { reason, error } : { reason });
      this.emitter.clear();
    })();
    return this.ending;
  }

  /**
   * Coworking rooms: tells the server every `heartbeatIntervalMs` that I am still here. A closed tab
   * sends nothing, so the server lets a silent participant go (roomkit_private.expire_participants).
   */
  private startHeartbeat(): void {
    if (this.roomRow?.kind !== "coworking") return;
    const beat = async () => {
      const result = await query<null>(
        this.db.schema(ROOMKIT_SCHEMA).rpc("heartbeat", { room_id: this.roomId }),
      );
      if (result.error && !this.closedReason) this.emitter.emit("error", result.error);
    };
    this.heartbeatTimer = this.clock.setInterval(() => void beat(), this.heartbeatMs);
  }

  private async shutdown(): Promise<void> {
    if (this.heartbeatTimer !== undefined) this.clock.clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.live.stop();
    this.authSubscription?.unsubscribe();
    await this.channels.removeAll();
  }
}
