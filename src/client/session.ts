/**
 * What `roomkit.openRoom` hands out: a {@link RoomSession} handle over the room's shared core
 * (`room-core.ts`). Opening a room that is already open on the same supabase client (React
 * StrictMode runs effects twice; two components show one room) shares its channels and gives an
 * independent handle: each has its own listeners and its own `close()`; the channels go when the
 * last handle closes.
 */
import type { AiReply } from "./ai-stream.ts";
import { Emitter } from "./emitter.ts";
import type { RoomkitError } from "./errors.ts";
import {
  type CloseReason,
  type EmojiBurst,
  type OnlineUser,
  RoomCore,
  type RoomSessionEvents,
  type RoomSessionOptions,
  SESSION_EVENTS,
  type SessionDeps,
} from "./room-core.ts";
import type { Invite, Member, Message, Reaction, Room } from "./schemas.ts";
import { ok, type Result } from "./transport.ts";

export type {
  CloseReason,
  ConnectionStatus,
  EmojiBurst,
  OnlineUser,
  RoomSessionEvents,
  RoomSessionOptions,
} from "./room-core.ts";

/**
 * A live room. Open one with `roomkit.openRoom(roomId)`; listen with `on(event, cb)`; end it with
 * `close()`. `messages` always holds what the session has, oldest first, in the server's order.
 *
 * Delivery: the database broadcasts each committed message once, but broadcasts sent while this
 * client was disconnected are lost. So after every rejoin, resubscribe and token refresh the
 * session re-reads history from just before the last message it saw (`backfillOverlapMs`, because
 * transactions commit in another order than they start) and reports what it missed, once per id.
 *
 * Opening the same room again on the same supabase client gives another handle over the same
 * channels; `close()` ends only this handle, `leave()` ends them all.
 *
 * @example
 * const { data: session, error } = await roomkit.openRoom(roomId);
 * if (error) return showError(error.code);
 * session.on("message", (m) => render(m));
 * session.on("typing", (ids) => showTyping(ids));
 * session.on("closed", ({ reason }) => leaveView(reason));
 * input.oninput = () => session.typing();
 * await session.send("Hello!");
 */
export class RoomSession {
  readonly roomId: string;
  readonly userId: string;
  private readonly core: RoomCore;
  private readonly emitter = new Emitter<RoomSessionEvents>();
  private readonly detach: (() => void)[] = [];
  private readonly release: (session: RoomSession) => Promise<void>;
  private ownReason: CloseReason | undefined;

  /** @internal use `roomkit.openRoom` */
  constructor(core: RoomCore, release: (session: RoomSession) => Promise<void>) {
    this.core = core;
    this.roomId = core.roomId;
    this.userId = core.userId;
    this.release = release;
    for (const event of SESSION_EVENTS) {
      this.detach.push(
        core.on(event, (...args: unknown[]) => {
          if (event === "closed") {
            this.finish();
            this.ownReason ??= (args[0] as { reason: CloseReason }).reason;
          }
          (this.emitter.emit as (e: string, ...a: unknown[]) => void)(event, ...args);
          if (event === "closed") this.emitter.clear();
        }),
      );
    }
  }

  /** The room as last seen (name, AI mode …). */
  get room(): Room {
    return this.core.room;
  }

  /** Messages held, oldest first, in the server's order (created_at, id), one per id. */
  get messages(): readonly Message[] {
    return this.core.messages;
  }

  /** Who is online now. */
  get onlineUsers(): readonly OnlineUser[] {
    return this.core.onlineUsers;
  }

  /** Ids of users typing now. */
  get typingUsers(): string[] {
    return this.core.typingUsers;
  }

  /** Ids of users speaking now. */
  get speakingUsers(): string[] {
    return this.core.speakingUsers;
  }

  /** AI replies still being written. */
  get aiReplies(): AiReply[] {
    return this.core.aiReplies;
  }

  /** True when `loadOlder` has reached the room's first message. */
  get reachedStart(): boolean {
    return this.core.reachedStart;
  }

  /** Set once this handle has ended (`closed` when only this handle was closed). */
  get closeReason(): CloseReason | undefined {
    return this.ownReason ?? this.core.closeReason;
  }

  on(event: "message", listener: (message: Message) => void): () => void;
  on(event: "message_updated", listener: (message: Message) => void): () => void;
  on(event: "reaction_added", listener: (reaction: Reaction) => void): () => void;
  on(event: "reaction_removed", listener: (reaction: Reaction) => void): () => void;
  on(event: "member_joined", listener: (member: Member) => void): () => void;
  on(event: "member_left", listener: (member: Member) => void): () => void;
  on(event: "member_updated", listener: (member: Member) => void): () => void;
  on(event: "room_updated", listener: (room: Room) => void): () => void;
  on(event: "invite_updated", listener: (invite: Invite) => void): () => void;
  on(event: "presence", listener: (online: OnlineUser[]) => void): () => void;
  on(event: "typing", listener: (userIds: string[]) => void): () => void;
  on(event: "speaking", listener: (userIds: string[]) => void): () => void;
  on(event: "emoji_burst", listener: (burst: EmojiBurst) => void): () => void;
  on(event: "ai_reply", listener: (reply: AiReply) => void): () => void;
  on(event: "status", listener: (status: "live" | "reconnecting") => void): () => void;
  on(event: "resynced", listener: (info: { added: number }) => void): () => void;
  on(event: "error", listener: (error: RoomkitError) => void): () => void;
  on(event: "closed", listener: (info: { reason: CloseReason; error?: RoomkitError }) => void): () => void;
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
  send(text: string): Promise<Result<Message>> {
    return this.core.send(text);
  }

  /**
   * Sends an emoji message (stored, unlike `sendBurst`).
   *
   * @example
   * await session.sendEmoji("🎉");
   */
  sendEmoji(value: string): Promise<Result<Message>> {
    return this.core.sendEmoji(value);
  }

  /**
   * Loads the page of history before the oldest message held; returns it oldest first.
   *
   * @example
   * const { data: older } = await session.loadOlder(30);
   * if (session.reachedStart) hideLoadMore();
   */
  loadOlder(limit?: number): Promise<Result<Message[]>> {
    return this.core.loadOlder(limit);
  }

  /**
   * Call on every keystroke: others see me typing. Broadcasts at most once per 2 s and never uses
   * presence (Supabase closes channels that make more than 5 presence calls in 30 s).
   *
   * @example
   * textarea.addEventListener("input", () => session.typing());
   */
  typing(): void {
    if (!this.ownReason) this.core.typing();
  }

  /**
   * Clears my typing indicator for others now (otherwise it expires 5 s after the last keystroke).
   *
   * @example
   * textarea.addEventListener("blur", () => session.stopTyping());
   */
  stopTyping(): void {
    this.core.stopTyping();
  }

  /**
   * Tells others whether I am speaking (from voice activity detection). Broadcast on every change,
   * refreshed every 2 s while speaking, so a lost "stopped" expires after 5 s.
   *
   * @example
   * vad.on("speech", (on) => session.setSpeaking(on));
   */
  setSpeaking(speaking: boolean): void {
    if (!this.ownReason) this.core.setSpeaking(speaking);
  }

  /**
   * Sends a fleeting emoji burst to everyone in the room (not stored; for a stored one use `sendEmoji`).
   *
   * @example
   * session.sendBurst("👏");
   */
  sendBurst(value: string): Result<null> {
    return this.core.sendBurst(value);
  }

  /**
   * Updates what others see of me in presence. Updates are spaced to stay within Supabase's
   * presence limit (the latest state always goes out).
   *
   * @example
   * session.setPresence({ status: "away" });
   */
  setPresence(changes: { status?: string }): void {
    if (!this.ownReason) this.core.setPresence(changes);
  }

  /**
   * Turns my microphone on or off in a coworking room: stored (others get `member_updated`) and
   * mirrored in presence.
   *
   * @example
   * await session.setMic(true);
   */
  setMic(enabled: boolean): Promise<Result<Member>> {
    return this.core.setMic(enabled);
  }

  /**
   * Adds my reaction to a message of this room.
   *
   * @example
   * await session.react(message.id, "❤️");
   */
  react(messageId: string, value: string): Promise<Result<null>> {
    return this.core.react(messageId, value);
  }

  /**
   * Removes my reaction.
   *
   * @example
   * await session.unreact(message.id, "❤️");
   */
  unreact(messageId: string, value: string): Promise<Result<null>> {
    return this.core.unreact(messageId, value);
  }

  /**
   * Deletes one of my messages; everyone gets `message_updated`.
   *
   * @example
   * await session.deleteMessage(message.id);
   */
  deleteMessage(messageId: string): Promise<Result<Message>> {
    return this.core.deleteMessage(messageId);
  }

  /**
   * Marks everything up to the newest message held as read.
   *
   * @example
   * window.addEventListener("focus", () => session.markRead());
   */
  markRead(): Promise<Result<null>> {
    return this.core.markRead();
  }

  /**
   * Leaves the room for good (coworking: gives up the seat) and ends every handle on it with
   * reason `left`.
   *
   * @example
   * await session.leave();
   */
  leave(): Promise<Result<null>> {
    return this.core.leave();
  }

  /**
   * Ends this handle (the room stays; open it again any time). The channels close with the last
   * handle on the room; then this resolves once they are gone.
   *
   * @example
   * onUnmount(() => session.close());
   */
  async close(): Promise<void> {
    if (this.ownReason) return;
    this.ownReason = "closed";
    this.finish();
    this.emitter.emit("closed", { reason: "closed" });
    this.emitter.clear();
    await this.release(this);
  }

  /** Stops forwarding the core's events. */
  private finish(): void {
    for (const stop of this.detach.splice(0)) stop();
  }
}

/** One room's core on one supabase client, and how many handles (open or opening) use it. */
interface Shared {
  core: Promise<Result<RoomCore>>;
  /** The core once open (what `expectLeave` reaches synchronously). */
  opened?: RoomCore;
  handles: number;
}

/**
 * Cores by supabase client and room. Keyed by the supabase client, not the Roomkit client: two
 * Roomkit clients over one supabase client share its realtime channels too.
 */
const shared = new WeakMap<object, Map<string, Shared>>();

/**
 * Opens a handle on `roomId`, sharing the core already open (or opening) on `deps.db`.
 * `options` apply only when this call opens the core. @internal
 */
export async function openSession(
  roomId: string,
  deps: Omit<SessionDeps, "onClosed">,
  options: RoomSessionOptions,
  onRelease: (session: RoomSession) => void,
): Promise<Result<RoomSession>> {
  let rooms = shared.get(deps.db);
  if (!rooms) {
    rooms = new Map();
    shared.set(deps.db, rooms);
  }
  const byRoom = rooms;
  for (;;) {
    let entry = byRoom.get(roomId);
    if (!entry) {
      const fresh: Shared = { handles: 0, core: Promise.resolve(null as never) };
      fresh.core = RoomCore.open(
        roomId,
        { ...deps, onClosed: () => byRoom.get(roomId) === fresh && byRoom.delete(roomId) },
        options,
      ).then((opened) => {
        if (opened.error && byRoom.get(roomId) === fresh) byRoom.delete(roomId);
        if (opened.data) fresh.opened = opened.data;
        return opened;
      });
      byRoom.set(roomId, fresh);
      entry = fresh;
    }
    // Counted before awaiting, so a handle closed meanwhile cannot close the core under this one.
    entry.handles++;
    const opened = await entry.core;
    if (opened.error) return opened;
    const core = opened.data;
    if (core.closeReason) {
      // Ending (left, removed, closed by its last handle): wait until its channels are gone, then open anew.
      entry.handles--;
      await core.close();
      if (byRoom.get(roomId) === entry) byRoom.delete(roomId);
      continue;
    }
    const current = entry;
    const session = new RoomSession(core, async (s) => {
      onRelease(s);
      current.handles--;
      if (current.handles > 0) return;
      if (byRoom.get(roomId) === current) byRoom.delete(roomId);
      await core.close();
    });
    return ok(session);
  }
}

/**
 * The caller is about to leave `roomId` through a sub-client (`rooms.leave`, `coworking.leave`):
 * the room's sessions on `db` will end with `left`, not `removed`. @internal
 */
export function expectLeave(db: object, roomId: string): void {
  shared.get(db)?.get(roomId)?.opened?.expectLeave();
}
