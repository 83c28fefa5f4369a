/**
 * The HTTP contract of Roomkit's edge functions: request and response bodies as zod schemas
 * (error codes, the error envelope and the enums come from `contract.ts`).
 * Functions validate with them; the client library (`src/client/`) imports this same file from
 * Node, so it stays free of Deno APIs and imports zod by its bare name (mapped to `npm:zod@…` by
 * `functions/deno.json`, resolved from node_modules by Node).
 *
 * @example
 * const body = createInviteRequest.parse(await req.json());
 * type Invite = z.infer<typeof invite>;
 */
import { z } from "zod";
import { inviteStatus, memberRole, roomStatus } from "./contract.ts";

/** Any 8-4-4-4-12 hex id: what Postgres accepts as `uuid` (zod's `uuid()` also checks the version). */
export const id = z.guid();

const timestamp = z.string();

/**
 * Where an invite stands; `pending` invites are the ones still waiting for an answer.
 *
 * @example
 * const { data } = await roomkit.invites.list({ room_id: roomId, status: "pending" });
 */
export type InviteStatus = z.infer<typeof inviteStatus>;

/** A row of `room_invites`. */
export const invite = z.object({
  id,
  room_id: id,
  inviter_id: id.nullable(),
  /** Null for an invite by email until someone accepts it. */
  invitee_id: id.nullable(),
  /** The address an invite by email was sent to (lower-case), else null. */
  invitee_email: z.string().nullable(),
  status: inviteStatus,
  created_at: timestamp,
  responded_at: timestamp.nullable(),
  expires_at: timestamp,
});
/**
 * A row of `room_invites`.
 *
 * @example
 * const { data: invite } = await roomkit.invites.send(roomId, { invitee_id: userId });
 * invite?.expires_at;
 */
export type Invite = z.infer<typeof invite>;

/** A row of `room_members`: a member of a private room or a participant of a coworking room. */
export const membership = z.object({
  room_id: id,
  user_id: id,
  role: memberRole,
  joined_at: timestamp,
  left_at: timestamp.nullable(),
  mic_enabled: z.boolean(),
  voice_connected: z.boolean(),
  last_read_at: timestamp,
});
/**
 * A row of `room_members` (a member of a private room or a participant of a coworking room).
 *
 * @example
 * const { data } = await roomkit.invites.accept(inviteId);
 * data?.membership.role; // "member"
 */
export type Membership = z.infer<typeof membership>;

/** `POST /invites`: exactly one of `invitee_id` and `invitee_email`. */
export const createInviteRequest = z
  .object({
    room_id: id,
    invitee_id: id.optional(),
    invitee_email: z.email().max(320).optional(),
  })
  .refine((b) => (b.invitee_id === undefined) !== (b.invitee_email === undefined), {
    message: "Give exactly one of invitee_id and invitee_email",
    path: ["invitee_id"],
  });
export type CreateInviteRequest = z.infer<typeof createInviteRequest>;

/** `POST /invites` → 201. */
export const createInviteResponse = z.object({ invite });

/**
 * `GET /invites` query. With `room_id`: that room's invites (members only), optionally filtered
 * by `status`. Without: the caller's incoming invites with `status` (default `pending`).
 */
export const listInvitesQuery = z.object({
  status: inviteStatus.optional(),
  room_id: id.optional(),
});
export type ListInvitesQuery = z.infer<typeof listInvitesQuery>;

/** An invite with the names a user needs to decide on it. */
export const inviteWithNames = invite.extend({
  room: z.object({ id, name: z.string() }),
  inviter: z.object({ id, display_name: z.string() }).nullable(),
  /** Null for an invite by email that nobody has accepted yet. */
  invitee: z.object({ id, display_name: z.string() }).nullable(),
});
/**
 * An invite with the room's name and the inviter's and invitee's display names.
 *
 * @example
 * const { data: invites } = await roomkit.invites.listPending();
 * invites?.map((i) => `${i.inviter?.display_name ?? "Someone"} invites you to ${i.room.name}`);
 */
export type InviteWithNames = z.infer<typeof inviteWithNames>;

/** `GET /invites` → 200. */
export const listInvitesResponse = z.object({ invites: z.array(inviteWithNames) });

/** `POST /invites/{id}/accept` → 200. */
export const acceptInviteResponse = z.object({ invite, membership });
/** `POST /invites/{id}/decline` and `/revoke` → 200. */
export const inviteResponse = z.object({ invite });

/** Where and how to join a LiveKit room. `expires_at` is when the token stops admitting new connections. */
export const voiceCredentials = z.object({
  url: z.string(),
  token: z.string(),
  expires_at: timestamp,
});
/**
 * Where and how to join a coworking room's LiveKit voice room.
 *
 * @example
 * const { data: voice } = await roomkit.coworking.voiceToken(roomId);
 * if (voice) await livekitRoom.connect(voice.url, voice.token);
 */
export type VoiceCredentials = z.infer<typeof voiceCredentials>;

/** A coworking room in the lobby. */
export const coworkingRoom = z.object({
  id,
  name: z.string(),
  description: z.string().nullable(),
  capacity: z.number().int(),
  status: roomStatus,
  participant_count: z.number().int(),
});
/**
 * A coworking room in the lobby, with its current participant count.
 *
 * @example
 * const { data: rooms } = await roomkit.coworking.list();
 * const open = rooms?.filter((r: CoworkingRoom) => r.participant_count < r.capacity);
 */
export type CoworkingRoom = z.infer<typeof coworkingRoom>;

/** `GET /coworking/rooms` → 200. */
export const listCoworkingRoomsResponse = z.object({ rooms: z.array(coworkingRoom) });

/** `POST /coworking/rooms/{id}/join` → 200. */
export const joinCoworkingResponse = z.object({ participant: membership, voice: voiceCredentials });
export type JoinCoworkingResponse = z.infer<typeof joinCoworkingResponse>;

/** `PUT /coworking/rooms/{id}/mic`. */
export const setMicRequest = z.object({ enabled: z.boolean() });
export type SetMicRequest = z.infer<typeof setMicRequest>;
/** `PUT /coworking/rooms/{id}/mic` → 200. */
export const setMicResponse = z.object({ participant: membership });

/** `DELETE /coworking/rooms/{id}/participants/{user_id}` → 200. */
export const removeParticipantResponse = z.object({
  removed: z.literal(true),
  /** False when LiveKit could not be reached; the user's token then lapses within its short TTL. */
  voice_disconnected: z.boolean(),
});

/** `POST /livekit-token`. */
export const livekitTokenRequest = z.object({ room_id: id });
export type LivekitTokenRequest = z.infer<typeof livekitTokenRequest>;
/** `POST /livekit-token` → 200. */
export const livekitTokenResponse = voiceCredentials;

/** `POST /livekit-webhook` → 200. */
export const livekitWebhookResponse = z.object({
  received: z.literal(true),
  /** False for a redelivered event id or an event Roomkit does not act on. */
  applied: z.boolean(),
});
