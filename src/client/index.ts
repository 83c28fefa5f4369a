/**
 * Roomkit's client library for frontends: a thin typed layer over supabase-js.
 *
 * @example
 * import { createClient } from "@supabase/supabase-js";
 * import { createRoomkitClient } from "roomkit";
 *
 * const supabase = createClient(url, publishableKey);
 * const roomkit = createRoomkitClient(supabase);
 * const { data: room } = await roomkit.rooms.create({ name: "Team" });
 * const { data: session } = await roomkit.openRoom(room.id);
 * session.on("message", (m) => console.log(m.body));
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { CoworkingClient } from "./coworking.ts";
import { InvitesClient } from "./invites.ts";
import { MessagesClient } from "./messages.ts";
import { RoomsClient } from "./rooms.ts";
import { id } from "./schemas.ts";
import { expectLeave, openSession, type RoomSession, type RoomSessionOptions } from "./session.ts";
import { currentUserId, type Db, type Result, validate } from "./transport.ts";

export { LOBBY_TOPIC } from "../../functions/_shared/contract.ts";
export { AiReplies, type AiReply } from "./ai-stream.ts";
export type { CoworkingClient, LobbyCount } from "./coworking.ts";
export {
  isRoomkitError,
  isServerErrorCode,
  RoomkitError,
  type RoomkitErrorCode,
  RoomkitHttpError,
  RoomkitNetworkError,
  RoomkitRealtimeError,
  RoomkitValidationError,
  SERVER_ERROR_CODES,
  type ServerErrorCode,
  type ValidationIssue,
} from "./errors.ts";
export type { InviteEvent, InvitesClient } from "./invites.ts";
export type { MessagePage, MessagesClient } from "./messages.ts";
export type { Subscription } from "./realtime.ts";
export type { RoomDetails, RoomMemberWithProfile, RoomSummary, RoomsClient } from "./rooms.ts";
export {
  AI_USER_ID,
  type AiMode,
  type CoworkingRoom,
  type CreateRoomInput,
  type Invite,
  type InviteStatus,
  type InviteTarget,
  type InviteWithNames,
  type ListMessagesInput,
  type Member,
  type MemberRole,
  type Membership,
  type Message,
  type MessageKind,
  type Profile,
  type Reaction,
  type Room,
  type SendMessageInput,
  type UpdateRoomInput,
  type VoiceCredentials,
} from "./schemas.ts";
export {
  type CloseReason,
  type ConnectionStatus,
  type EmojiBurst,
  type OnlineUser,
  RoomSession,
  type RoomSessionEvents,
  type RoomSessionOptions,
} from "./session.ts";
export {
  PRESENCE_MAX_CALLS,
  PRESENCE_WINDOW_MS,
  SPEAKING_EXPIRY_MS,
  TYPING_EXPIRY_MS,
  TYPING_THROTTLE_MS,
} from "./signals.ts";
export type { Result } from "./transport.ts";

/**
 * Options of {@link createRoomkitClient}.
 *
 * @example
 * const roomkit = createRoomkitClient(supabase, { session: { historyLimit: 20 } });
 */
export interface RoomkitClientOptions {
  /** Defaults for every `openRoom` (each call may override them). */
  session?: RoomSessionOptions;
}

/**
 * The Roomkit client: sub-clients for rooms, invites, messages and coworking, and `openRoom`
 * for live sessions. Create one per supabase-js client with {@link createRoomkitClient}.
 *
 * @example
 * const roomkit = createRoomkitClient(supabase);
 * const { data: rooms } = await roomkit.rooms.list();
 */
export class RoomkitClient {
  /** Private rooms: create, list, get with members, leave, delete, members, AI mode. */
  readonly rooms: RoomsClient;
  /** Invites: send, list, accept, decline, revoke, live `onInvite`. */
  readonly invites: InvitesClient;
  /** Messages: history pages, send, delete, reactions, read markers. */
  readonly messages: MessagesClient;
  /** Coworking: lobby with live counts, join with voice credentials, leave, mic. */
  readonly coworking: CoworkingClient;
  private readonly db: Db;
  private readonly options: RoomkitClientOptions;
  private readonly sessions = new Set<RoomSession>();

  /** @internal use {@link createRoomkitClient} */
  constructor(supabase: SupabaseClient, options: RoomkitClientOptions) {
    this.db = supabase as unknown as Db;
    this.options = options;
    const hooks = { beforeLeave: (roomId: string) => this.expectLeave(roomId) };
    this.rooms = new RoomsClient(this.db, hooks);
    this.invites = new InvitesClient(this.db);
    this.messages = new MessagesClient(this.db);
    this.coworking = new CoworkingClient(this.db, hooks);
  }

  /**
   * Opens a live session on a room I am a member of (for coworking rooms: after `coworking.join`).
   * Resolves once the channel is joined and the newest messages are loaded. Fails with
   * `room_not_found` for a private room I am not in (RLS hides it), `unauthorized` when the server
   * refuses the channel (e.g. a coworking room I have not joined), `not_authenticated` when
   * signed out.
   *
   * @example
   * const { data: session, error } = await roomkit.openRoom(roomId, { historyLimit: 30 });
   * if (error) return;
   * session.messages.forEach(render);
   * session.on("message", render);
   */
  async openRoom(roomId: string, options: RoomSessionOptions = {}): Promise<Result<RoomSession>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    const me = await currentUserId(this.db);
    if (me.error) return me;
    const opened = await openSession(
      roomId,
      { db: this.db, messages: this.messages, coworking: this.coworking, userId: me.data },
      { ...this.options.session, ...options },
      (s) => this.sessions.delete(s),
    );
    if (opened.data) {
      const session = opened.data;
      this.sessions.add(session);
      session.on("closed", () => this.sessions.delete(session));
    }
    return opened;
  }

  /**
   * Closes every open session (e.g. before signing out).
   *
   * @example
   * await roomkit.closeAll();
   * await supabase.auth.signOut();
   */
  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions].map((s) => s.close()));
  }

  private expectLeave(roomId: string): void {
    expectLeave(this.db, roomId);
  }
}

/**
 * Creates the Roomkit client over a supabase-js client (which keeps owning auth, the session and
 * the realtime socket). Throws only on misuse (no client given).
 *
 * @example
 * import { createClient } from "@supabase/supabase-js";
 * import { createRoomkitClient } from "roomkit";
 *
 * const roomkit = createRoomkitClient(createClient(SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY));
 */
export function createRoomkitClient(
  // biome-ignore lint/suspicious/noExplicitAny: any Database type the app generated works here.
  supabase: SupabaseClient<any, any, any>,
  options: RoomkitClientOptions = {},
): RoomkitClient {
  if (!supabase || typeof supabase.from !== "function" || typeof supabase.channel !== "function") {
    throw new TypeError("createRoomkitClient(supabase): pass a supabase-js client from createClient()");
  }
  refuseBrokenTransport(supabase as SupabaseClient);
  return new RoomkitClient(supabase as SupabaseClient, options);
}

/**
 * Node 20's WebSocket (`--experimental-websocket`) never fires `close` when a connection is
 * refused, so realtime-js never retries and a session stays `reconnecting` forever after a server
 * restart. Refused here, loudly, with the fix; browsers, Node 22+, Deno, Bun, Electron and any
 * explicit transport pass.
 */
function refuseBrokenTransport(supabase: SupabaseClient): void {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process
    ?.versions;
  // Deno, Bun and Electron report a Node version too, with WebSockets of their own that work.
  if (!versions || versions.deno || versions.bun || versions.electron) return;
  const node = versions.node;
  const major = node ? Number(node.split(".")[0]) : Number.NaN;
  if (!(major < 22)) return;
  const transport = (supabase as unknown as { realtime?: { transport?: unknown } }).realtime?.transport;
  if (transport === undefined || transport !== (globalThis as { WebSocket?: unknown }).WebSocket) return;
  throw new TypeError(
    `createRoomkitClient: Node ${node}'s built-in WebSocket does not report refused connections, so ` +
      "realtime sessions would never reconnect. Use Node 22+, or give supabase-js the ws package: " +
      'import WebSocket from "ws"; createClient(url, key, { realtime: { transport: WebSocket } })',
  );
}
