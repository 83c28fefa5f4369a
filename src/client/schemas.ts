/**
 * Client-side input schemas and row types. Shapes shared with the edge functions come from
 * `functions/_shared/schemas.ts`, enums and the AI user id from `functions/_shared/contract.ts`
 * (imported directly; the build compiles them alongside the client); what only the client
 * validates lives here. Limits mirror the table checks in supabase/migrations/*_tables.sql so bad
 * input fails before a round trip.
 */
import { z } from "zod";
import { aiMode, type Schema } from "../../functions/_shared/contract.ts";
import { id } from "../../functions/_shared/schemas.ts";

export { AI_USER_ID, aiMode, memberRole } from "../../functions/_shared/contract.ts";
export {
  type CoworkingRoom,
  coworkingRoom,
  createInviteRequest,
  type Invite,
  type InviteStatus,
  type InviteWithNames,
  id,
  type JoinCoworkingResponse,
  joinCoworkingResponse,
  listCoworkingRoomsResponse,
  listInvitesResponse,
  type Membership,
  setMicRequest,
  setMicResponse,
  type VoiceCredentials,
  voiceCredentials,
} from "../../functions/_shared/schemas.ts";

type Tables = Schema["Tables"];
type Enums = Schema["Enums"];

/**
 * A room row (private or coworking).
 *
 * @example
 * const { data: room } = await roomkit.rooms.create({ name: "Team" });
 * room?.kind; // "private"
 */
export type Room = Tables["rooms"]["Row"];
/**
 * A membership row; active when `left_at` is null.
 *
 * @example
 * session.on("member_joined", (member) => console.log(member.user_id, member.role));
 */
export type Member = Tables["room_members"]["Row"];
/**
 * A message row; `deleted_at` set means the message was deleted (body is then null).
 *
 * @example
 * session.on("message", (m) => render(m.deleted_at ? "(deleted)" : m.body));
 */
export type Message = Tables["room_messages"]["Row"];
/**
 * A reaction row.
 *
 * @example
 * session.on("reaction_added", (r) => addReaction(r.message_id, r.emoji, r.user_id));
 */
export type Reaction = Tables["message_reactions"]["Row"];
/**
 * A profile row.
 *
 * @example
 * const { data } = await roomkit.rooms.get(roomId);
 * data?.members.map((m) => m.profile?.display_name);
 */
export type Profile = Tables["profiles"]["Row"];
/**
 * When the AI participant answers in a room: never, when mentioned, or to every message.
 *
 * @example
 * const mode: AiMode = "mention";
 * await roomkit.rooms.update(roomId, { ai_mode: mode });
 */
export type AiMode = Enums["ai_mode"];
/**
 * A member's role in a private room; owners and admins may edit the room and manage members.
 *
 * @example
 * const canEdit = (role: MemberRole) => role === "owner" || role === "admin";
 */
export type MemberRole = Enums["member_role"];
/**
 * What a message holds: `text` and `emoji` from people, `system` and `ai` from Roomkit.
 *
 * @example
 * const fromPerson = (kind: MessageKind) => kind === "text" || kind === "emoji";
 */
export type MessageKind = Enums["message_kind"];

/** `rooms.name`: 1–100 characters after trimming (check constraint + create_private_room). */
const roomName = z.string().trim().min(1, "Room name must not be empty").max(100);
/** `rooms.description`: at most 500 characters. */
const roomDescription = z.string().trim().max(500);

/** `rooms.create(…)`. */
export const createRoomInput = z.object({
  name: roomName,
  description: roomDescription.optional(),
  ai_mode: aiMode.optional(),
});
/**
 * Input of `rooms.create`: a name, optionally a description and the AI mode.
 *
 * @example
 * const input: CreateRoomInput = { name: "Team", ai_mode: "mention" };
 * await roomkit.rooms.create(input);
 */
export type CreateRoomInput = z.input<typeof createRoomInput>;

/** `rooms.update(…)`: what owners and admins may change directly (column grants on rooms). */
export const updateRoomInput = z
  .object({
    name: roomName.optional(),
    description: roomDescription.nullable().optional(),
    ai_mode: aiMode.optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), { message: "Nothing to update" });
/**
 * Input of `rooms.update`: at least one of name, description (null clears it) and AI mode.
 *
 * @example
 * const changes: UpdateRoomInput = { description: null };
 * await roomkit.rooms.update(roomId, changes);
 */
export type UpdateRoomInput = z.input<typeof updateRoomInput>;

/** Text messages: 1–4000 characters, not blank (room_messages_body_check). */
export const messageText = z
  .string()
  .max(4000)
  .refine((s) => s.trim() !== "", "Message must not be empty");
/** Emoji messages and reactions: 1–32 characters, not blank. */
export const emoji = z
  .string()
  .max(32)
  .refine((s) => s.trim() !== "", "Emoji must not be empty");

export const sendMessageInput = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("text"), body: messageText }),
  z.object({ kind: z.literal("emoji"), body: emoji }),
]);
/**
 * Input of `messages.send` when not plain text: a text or an emoji message.
 *
 * @example
 * const wave: SendMessageInput = { kind: "emoji", body: "👋" };
 * await roomkit.messages.send(roomId, wave);
 */
export type SendMessageInput = z.input<typeof sendMessageInput>;

/** Largest page `messages.list` asks for; keeps one response small. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;

/** `messages.list(roomId, { before, limit })`. */
export const listMessagesInput = z.object({
  /** A page's `next_cursor`; `null` (the last page's) asks for the page before the first message: none. */
  before: z.string().min(1).nullable().optional(),
  limit: z.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
});
/**
 * Options of `messages.list`: `before` is the `next_cursor` of the previous page (`null` after the
 * last page gives an empty page), `limit` 1–100 (default 50).
 *
 * @example
 * const options: ListMessagesInput = { limit: 20 };
 * const { data: page } = await roomkit.messages.list(roomId, options);
 */
export type ListMessagesInput = z.input<typeof listMessagesInput>;

/** An ISO-8601 timestamp with an offset (what Postgres' timestamptz accepts unambiguously). */
export const isoTimestamp = z.iso.datetime({ offset: true });

export const inviteTarget = z.union([
  z.object({ invitee_id: id }).strict(),
  z.object({ invitee_email: z.email().max(320) }).strict(),
]);
/**
 * Whom `invites.send` invites: a user id or an email address, never both.
 *
 * @example
 * const target: InviteTarget = { invitee_email: "ada@example.com" };
 * await roomkit.invites.send(roomId, target);
 */
export type InviteTarget = z.input<typeof inviteTarget>;
