/**
 * `livekit-webhook` (verify_jwt = false): LiveKit's webhooks keep each participant's voice state
 * (`room_members.voice_connected`) in the database.
 *
 * `POST /livekit-webhook` with LiveKit's body and its `Authorization` header (a JWT signed with the
 * API secret carrying the sha256 of the body) → 200 `{received: true, applied}`; 401 when the
 * signature or the body hash does not verify; 400 for a signed body that is not a webhook event.
 *
 * - `participant_joined`: the participant is connected; their LiveKit sid is remembered. Someone
 *   connecting without an active membership (a token minted before they left) is disconnected.
 * - `participant_left` / `participant_connection_aborted`: disconnected, unless LiveKit replaced the
 *   connection (`DUPLICATE_IDENTITY`) or the leave belongs to an older connection than the current one.
 * - `room_finished`: nobody in the room is connected any more.
 * Each event id is applied once (LiveKit retries deliveries); a leave without a join is harmless.
 */
import type { WebhookEvent } from "livekit-server-sdk";
import { asService, type Tx } from "../_shared/db.ts";
import { ApiError } from "../_shared/errors.ts";
import { createHandler, json, route } from "../_shared/http.ts";
import { disconnectFromVoice, livekitWebhookReceiver, roomIdFromLivekitRoom } from "../_shared/livekit.ts";

/** `DisconnectReason.DUPLICATE_IDENTITY` in LiveKit's protocol (livekit_models.proto): a newer connection took over the identity. */
const DUPLICATE_IDENTITY = 2;
/** Applied event ids are kept this long; LiveKit retries a delivery for minutes, not days. */
const EVENT_RETENTION = "7 days";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const receiver = livekitWebhookReceiver();

/** Verifies in LiveKit's order: header → signature → body hash → parse. */
async function verify(rawBody: string, authorization: string | null): Promise<WebhookEvent> {
  if (!authorization) throw new ApiError("not_authenticated", "Missing LiveKit webhook signature");
  try {
    return await receiver.receive(rawBody, authorization.replace(/^Bearer\s+/i, ""));
  } catch (error) {
    // receive() parses only after the signature and the body hash have verified.
    const message = (error as Error).message ?? "";
    if (error instanceof SyntaxError || message.startsWith("cannot decode"))
      throw new ApiError("invalid_input", "Body is not a LiveKit webhook event");
    throw new ApiError("not_authenticated", "Invalid LiveKit webhook signature");
  }
}

/** Records a connection; false when the identity has no active membership (it must be turned away). */
async function participantJoined(tx: Tx, roomId: string, userId: string, sid: string): Promise<boolean> {
  const [member] = await tx`
    update roomkit.room_members m set voice_connected = true, last_seen_at = now()
    where m.room_id = ${roomId} and m.user_id = ${userId} and m.left_at is null
    returning m.user_id`;
  if (!member) return false;
  await tx`
    insert into roomkit_private.voice_sessions (room_id, user_id, participant_sid) values (${roomId}, ${userId}, ${sid})
    on conflict (room_id, user_id) do update set participant_sid = excluded.participant_sid, joined_at = now()`;
  return true;
}

async function participantLeft(
  tx: Tx,
  roomId: string,
  userId: string,
  sid: string,
  reason: number,
): Promise<void> {
  if (reason === DUPLICATE_IDENTITY) return;
  const [session] = await tx<{ participant_sid: string }[]>`
    select participant_sid from roomkit_private.voice_sessions where room_id = ${roomId} and user_id = ${userId} for update`;
  // A leave of an older connection (its replacement already joined): the user is still connected.
  if (session && sid !== "" && session.participant_sid !== sid) return;
  await tx`delete from roomkit_private.voice_sessions where room_id = ${roomId} and user_id = ${userId}`;
  await tx`
    update roomkit.room_members m set voice_connected = false
    where m.room_id = ${roomId} and m.user_id = ${userId} and m.voice_connected`;
}

async function roomFinished(tx: Tx, roomId: string): Promise<void> {
  await tx`delete from roomkit_private.voice_sessions where room_id = ${roomId}`;
  await tx`update roomkit.room_members m set voice_connected = false where m.room_id = ${roomId} and m.voice_connected`;
}

/** Applies one verified event; false when it was seen before or concerns nothing Roomkit tracks. */
async function apply(event: WebhookEvent): Promise<boolean> {
  const roomId = roomIdFromLivekitRoom(event.room?.name);
  if (!roomId) return false;
  const identity = event.participant?.identity ?? "";
  const sid = event.participant?.sid ?? "";
  let intruder: string | undefined;
  const applied = await asService(async (tx) => {
    if (event.id) {
      const [fresh] = await tx`
        insert into roomkit_private.livekit_events (id, event, room_name) values (${event.id}, ${event.event}, ${event.room?.name ?? null})
        on conflict (id) do nothing returning id`;
      if (!fresh) return false;
      await tx`delete from roomkit_private.livekit_events where received_at < now() - ${EVENT_RETENTION}::interval`;
    }
    const [room] = await tx`select 1 from roomkit.rooms where id = ${roomId}`;
    if (!room) return false;
    switch (event.event) {
      case "participant_joined":
        if (!UUID.test(identity)) return false;
        if (!(await participantJoined(tx, roomId, identity, sid))) intruder = identity;
        return true;
      case "participant_left":
      case "participant_connection_aborted":
        if (!UUID.test(identity)) return false;
        await participantLeft(tx, roomId, identity, sid, Number(event.participant?.disconnectReason ?? 0));
        return true;
      case "room_finished":
        await roomFinished(tx, roomId);
        return true;
      default:
        return false;
    }
  });
  // A token minted before the membership ended is valid until its TTL: whoever connects with one
  // while not (or no longer) a participant is disconnected at once, and their older tokens revoked.
  if (intruder) await disconnectFromVoice(roomId, intruder);
  return applied;
}

const receive = route({
  method: "POST",
  path: "/",
  rawBody: true,
  // The signature is the authentication; it is checked first thing in `run`, before any work.
  auth: async () => undefined,
  async run({ req, rawBody }) {
    const event = await verify(rawBody, req.headers.get("authorization"));
    const applied = await apply(event);
    return json(200, { received: true, applied });
  },
});

export const handler = createHandler("livekit-webhook", [receive]);

if (import.meta.main) Deno.serve(handler);
