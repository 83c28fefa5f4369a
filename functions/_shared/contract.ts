/**
 * Facts the edge functions, the client library and the SQL migrations must agree on, each defined
 * once: error codes and their HTTP statuses, the error envelope, realtime topics and event names,
 * the AI participant's id, and the database enums as zod schemas. Functions and the client import
 * this file; the SQL cannot, so `test/contract.test.ts` checks the migrations against it.
 *
 * @example
 * throw new ApiError("room_full", "Focus Zone is full"); // answered as ERROR_STATUS.room_full (409)
 * supabase
 *   .channel(roomTopic(roomId), { config: { private: true } })
 *   .on("broadcast", { event: DB_EVENTS.messageInsert }, onMessage);
 */
import { z } from "zod";
import { Constants, type Database } from "./database.types.ts";

/**
 * The schema Roomkit's tables and RPCs live in, exposed through `[api] schemas` (helpers and
 * internals are in `roomkit_private`, never exposed). The client queries through
 * `supabase.schema(ROOMKIT_SCHEMA)`, so an app's own client keeps `public` as its default.
 *
 * @example
 * await supabase.schema(ROOMKIT_SCHEMA).rpc("send_message", { room_id, body: "hi" });
 */
export const ROOMKIT_SCHEMA = "roomkit";

/**
 * The generated types of that schema.
 *
 * @example
 * type Room = Schema["Tables"]["rooms"]["Row"];
 */
export type Schema = Database[typeof ROOMKIT_SCHEMA];
const enums = Constants[ROOMKIT_SCHEMA].Enums;

/**
 * Every error code Roomkit answers with and its HTTP status: the `code` of a function's error
 * envelope and the HINT of a SQL function's error. A SQL function raises each code with the
 * SQLSTATE that PostgREST answers with this status (42501 → 401/403, 22023 → 400, PTxyz → xyz).
 *
 * @example
 * ERROR_STATUS.room_full; // 409
 */
export const ERROR_STATUS = {
  invalid_input: 400,
  not_authenticated: 401,
  forbidden: 403,
  /** The caller is not (or no longer) in the room. */
  not_member: 403,
  not_found: 404,
  room_not_found: 404,
  user_not_found: 404,
  /** The user an operation targets (removed, given a role) is not in the room. */
  member_not_found: 404,
  invite_not_found: 404,
  message_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  already_member: 409,
  invite_exists: 409,
  invite_expired: 409,
  invite_revoked: 409,
  invite_declined: 409,
  invite_accepted: 409,
  room_full: 409,
  room_inactive: 409,
  unprocessable: 422,
  rate_limited: 429,
  internal_error: 500,
} as const;

/**
 * One of Roomkit's error codes.
 *
 * @example
 * const messages: Partial<Record<ErrorCode, string>> = { room_full: "That room is full" };
 */
export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * Every error code, in the order of {@link ERROR_STATUS}.
 *
 * @example
 * ERROR_CODES.includes("room_full"); // true
 */
export const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

/**
 * The error codes as a zod enum.
 *
 * @example
 * errorCode.parse("room_full");
 */
export const errorCode = z.enum(ERROR_CODES);

/**
 * Is `value` one of Roomkit's error codes (e.g. the HINT of a Postgres error)?
 *
 * @example
 * const code = isErrorCode(pgError.hint) ? pgError.hint : "conflict";
 */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_STATUS, value);
}

/** The code for a status when nothing more specific is known: each has exactly that status. */
const GENERIC_CODE: Readonly<Record<number, ErrorCode>> = {
  400: "invalid_input",
  401: "not_authenticated",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  422: "unprocessable",
  429: "rate_limited",
  500: "internal_error",
};

/**
 * The generic code for an HTTP status (any 5xx is `internal_error`), for errors that name no code
 * of their own; undefined for a status Roomkit never answers with.
 *
 * @example
 * codeForStatus(409); // "conflict"
 * codeForStatus(502); // "internal_error"
 */
export function codeForStatus(status: number): ErrorCode | undefined {
  return GENERIC_CODE[status] ?? (status >= 500 && status <= 599 ? "internal_error" : undefined);
}

/**
 * The one error envelope of every function: `{ "error": { code, message, details?, request_id? } }`.
 *
 * @example
 * const parsed = errorEnvelope.safeParse(await response.json());
 * if (parsed.success) console.log(parsed.data.error.code);
 */
export const errorEnvelope = z.object({
  error: z.object({
    code: errorCode,
    message: z.string(),
    details: z.unknown().optional(),
    request_id: z.string().optional(),
  }),
});
/**
 * The error envelope's type.
 *
 * @example
 * const body: ErrorEnvelope = { error: { code: "internal_error", message: "Internal server error" } };
 */
export type ErrorEnvelope = z.infer<typeof errorEnvelope>;

/**
 * A room's database and server events (messages, reactions, members, room changes, invites'
 * outcomes, AI replies) at one epoch (`rooms.epoch`). Members may receive; nobody but the database
 * and the service role sends. The epoch advances whenever a membership ends, and only the current
 * epoch's topics can be joined: that is how a former member's open channel stops receiving.
 *
 * @example
 * roomTopic("6f1c…", 3); // "room:6f1c…:3"
 */
export function roomTopic(roomId: string, epoch: number): string {
  return `room:${roomId}:${epoch}`;
}

/**
 * A room's members' own signals ({@link SIGNAL_EVENTS}) and presence at one epoch. Members may
 * receive and send.
 *
 * @example
 * roomLiveTopic("6f1c…", 3); // "room:6f1c…:3:live"
 */
export function roomLiveTopic(roomId: string, epoch: number): string {
  return `${roomTopic(roomId, epoch)}:live`;
}

/**
 * A user's incoming invites (`invite.insert`, `invite.update`). Only that user may receive.
 *
 * @example
 * userTopic(me); // "user:<my id>"
 */
export function userTopic(userId: string): string {
  return `user:${userId}`;
}

/**
 * Live participant counts of coworking rooms (`room.count`). Anyone may receive, nobody may send.
 *
 * @example
 * supabase.channel(LOBBY_TOPIC, { config: { private: true } });
 */
export const LOBBY_TOPIC = "coworking:lobby";

/**
 * What a Roomkit topic is about.
 *
 * @example
 * const topic: Topic = { kind: "room_live", roomId };
 */
export type Topic =
  | { kind: "room"; roomId: string; epoch: number }
  | { kind: "room_live"; roomId: string; epoch: number }
  | { kind: "user"; userId: string }
  | { kind: "lobby" };

const UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
const ROOM_TOPIC_PATTERN = new RegExp(`^room:(${UUID}):([1-9][0-9]{0,9})(:live)?$`);
const USER_TOPIC_PATTERN = new RegExp(`^user:(${UUID})$`);

/**
 * Reads a topic made by the builders above; undefined for anything else (also a `user:<id>:live`).
 *
 * @example
 * parseTopic("room:6f1c…:3:live"); // { kind: "room_live", roomId: "6f1c…", epoch: 3 }
 */
export function parseTopic(topic: string): Topic | undefined {
  if (topic === LOBBY_TOPIC) return { kind: "lobby" };
  const user = USER_TOPIC_PATTERN.exec(topic);
  if (user?.[1] !== undefined) return { kind: "user", userId: user[1] };
  const [, roomId, epoch, live] = ROOM_TOPIC_PATTERN.exec(topic) ?? [];
  if (roomId === undefined || epoch === undefined) return undefined;
  return { kind: live ? "room_live" : "room", roomId, epoch: Number(epoch) };
}

/**
 * Broadcasts the database triggers send (realtime migration), with the row in the payload
 * (`{ record, old_record, … }`): `<entity>.<op>` on {@link roomTopic}, invites also on
 * {@link userTopic}, `room.count` `{ room_id, participant_count }` on {@link LOBBY_TOPIC}.
 *
 * @example
 * channel.on("broadcast", { event: DB_EVENTS.messageInsert }, ({ payload }) => show(payload.record));
 */
export const DB_EVENTS = {
  messageInsert: "message.insert",
  messageUpdate: "message.update",
  reactionInsert: "reaction.insert",
  reactionDelete: "reaction.delete",
  memberInsert: "member.insert",
  memberUpdate: "member.update",
  roomUpdate: "room.update",
  roomDelete: "room.delete",
  inviteInsert: "invite.insert",
  inviteUpdate: "invite.update",
  roomCount: "room.count",
} as const;

/**
 * Client-to-client broadcasts on {@link roomLiveTopic} (never stored): `typing` `{ user_id, typing }`,
 * `speaking` `{ user_id, speaking }`, `emoji_burst` `{ user_id, emoji }`.
 *
 * @example
 * channel.send({ type: "broadcast", event: SIGNAL_EVENTS.typing, payload: { user_id: me, typing: true } });
 */
export const SIGNAL_EVENTS = { typing: "typing", speaking: "speaking", burst: "emoji_burst" } as const;

/**
 * The AI participant's broadcasts on {@link roomTopic} for one reply, in this order: `ai.typing`
 * `{ reply_id, attempt }`, `ai.delta` `{ reply_id, seq, text }`…, then `ai.done`
 * `{ reply_id, message_id }` or `ai.error` `{ reply_id, code, message, retrying }`.
 *
 * @example
 * channel.on("broadcast", { event: AI_EVENTS.delta }, ({ payload }) => append(payload.text));
 */
export const AI_EVENTS = {
  typing: "ai.typing",
  delta: "ai.delta",
  done: "ai.done",
  error: "ai.error",
} as const;

/**
 * The AI participant's fixed user id, the same on every deployment (`ai_user_id()` in SQL).
 *
 * @example
 * const fromAi = message.sender_id === AI_USER_ID;
 */
export const AI_USER_ID = "00000000-0000-4000-a000-00000000a1a1";

/**
 * `ai_mode`: when the AI participant answers in a room (never, when mentioned, every message).
 *
 * @example
 * aiMode.parse("mention");
 */
export const aiMode = z.enum(enums.ai_mode);
/**
 * `invite_status`: where an invite stands.
 *
 * @example
 * inviteStatus.parse("pending");
 */
export const inviteStatus = z.enum(enums.invite_status);
/**
 * `member_role`: a member's role in a private room.
 *
 * @example
 * memberRole.exclude(["owner"]).parse("admin");
 */
export const memberRole = z.enum(enums.member_role);
/**
 * `message_kind`: `text` and `emoji` from people, `system` and `ai` from Roomkit.
 *
 * @example
 * messageKind.parse("ai");
 */
export const messageKind = z.enum(enums.message_kind);
/**
 * `room_kind`: a private room or a coworking room.
 *
 * @example
 * roomKind.parse("coworking");
 */
export const roomKind = z.enum(enums.room_kind);
/**
 * `room_status`: whether a coworking room is open.
 *
 * @example
 * roomStatus.parse("active");
 */
export const roomStatus = z.enum(enums.room_status);
/**
 * `notification_kind`: what a notification is about; each kind can be switched off per user in
 * `notification_preferences` (columns `invites`, `mentions`, `ai_replies`).
 *
 * @example
 * notificationKind.parse("mention");
 */
export const notificationKind = z.enum(enums.notification_kind);
export type NotificationKind = z.infer<typeof notificationKind>;

/**
 * The JSON a Web Push carries (encrypted for the subscription; the app's service worker shows it).
 * `url` is relative to the app (`#/rooms/<id>`, `#/invites`); `tag` makes a newer notification
 * about the same room replace the older one.
 *
 * @example
 * self.addEventListener("push", (e) => { const p = pushPayload.parse(e.data.json()); … });
 */
export const pushPayload = z.object({
  kind: notificationKind,
  title: z.string(),
  body: z.string(),
  url: z.string(),
  tag: z.string(),
  room_id: z.string(),
});
export type PushPayload = z.infer<typeof pushPayload>;
