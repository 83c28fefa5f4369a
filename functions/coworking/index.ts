/**
 * `coworking`: the public lobby of coworking rooms, joining (capacity-checked in SQL, never
 * overbooked) with a LiveKit voice token, leaving, the mic switch, and moderation.
 *
 * - `GET /coworking/rooms` → `{rooms: [{id, name, description, capacity, status, participant_count}]}` (anyone)
 * - `POST /coworking/rooms/{id}/join` → `{participant, voice: {url, token, expires_at}}`; idempotent;
 *   409 `room_full` / `room_inactive`, 404 `room_not_found`
 * - `POST /coworking/rooms/{id}/leave` → 204
 * - `PUT /coworking/rooms/{id}/mic` `{enabled}` → `{participant}` (the DB trigger broadcasts `member.update`)
 * - `DELETE /coworking/rooms/{id}/participants/{user_id}` → `{removed, voice_disconnected}`: moderators only
 *   (the service role, or a user with `app_metadata.roomkit_admin = true`); also disconnects their voice.
 */
import { z } from "zod";
import { allowAnyone, requireModerator, requireUser } from "../_shared/auth.ts";
import { asService, asUser, type Tx } from "../_shared/db.ts";
import { ApiError } from "../_shared/errors.ts";
import { createHandler, json, route } from "../_shared/http.ts";
import { livekitConfig, mintVoiceToken } from "../_shared/livekit.ts";
import { type CoworkingRoom, id, type Membership, setMicRequest } from "../_shared/schemas.ts";
import { settleVoiceEviction } from "../_shared/voice.ts";

livekitConfig();

const roomParams = z.object({ id });

/** 404 unless `roomId` is a coworking room (coworking rooms are visible to everyone). */
async function requireCoworkingRoom(tx: Tx, roomId: string): Promise<void> {
  const [room] = await tx`select 1 from roomkit.rooms r where r.id = ${roomId} and r.kind = 'coworking'`;
  if (!room) throw new ApiError("room_not_found", "Room not found");
}

const listRooms = route({
  method: "GET",
  path: "/rooms",
  auth: allowAnyone,
  async run({ caller }) {
    const rooms = await asUser(
      caller,
      (tx) => tx<CoworkingRoom[]>`
        select id, name, description, capacity, status, participant_count from roomkit.list_coworking_rooms()`,
    );
    return json(200, { rooms: [...rooms] });
  },
});

const join = route({
  method: "POST",
  path: "/rooms/:id/join",
  params: roomParams,
  auth: requireUser,
  async run({ params, caller }) {
    const result = await asUser(caller, async (tx) => {
      await requireCoworkingRoom(tx, params.id);
      const [row] = await tx<{ participant: Membership; name: string }[]>`
        select to_jsonb(m) as participant, roomkit_private.display_name(m.user_id) as name
        from roomkit.join_coworking_room(${params.id}::uuid) m`;
      // Minted inside the transaction: if it fails, the join is rolled back too.
      const voice = await mintVoiceToken({ roomId: params.id, userId: caller.id, name: row!.name });
      return { participant: row!.participant, voice };
    });
    return json(200, result);
  },
});

const leave = route({
  method: "POST",
  path: "/rooms/:id/leave",
  params: roomParams,
  auth: requireUser,
  async run({ params, caller }) {
    await asUser(caller, async (tx) => {
      await requireCoworkingRoom(tx, params.id);
      await tx`select roomkit.leave_room(${params.id}::uuid)`;
    });
    // After the commit the membership is gone: end the voice it owed now rather than at the next sweep.
    await settleVoiceEviction(params.id, caller.id);
    return json(204, null);
  },
});

const mic = route({
  method: "PUT",
  path: "/rooms/:id/mic",
  params: roomParams,
  body: setMicRequest,
  auth: requireUser,
  async run({ params, body, caller }) {
    const participant = await asUser(caller, async (tx) => {
      await requireCoworkingRoom(tx, params.id);
      const [row] = await tx<{ participant: Membership }[]>`
        select to_jsonb(m) as participant from roomkit.set_mic(${params.id}::uuid, ${body.enabled}) m`;
      return row!.participant;
    });
    return json(200, { participant });
  },
});

const removeParticipant = route({
  method: "DELETE",
  path: "/rooms/:id/participants/:user_id",
  params: z.object({ id, user_id: id }),
  auth: requireModerator,
  async run({ params }) {
    // Coworking rooms have no owners: removal is a system action (remove_member allows it to the service role only).
    await asService(async (tx) => {
      await requireCoworkingRoom(tx, params.id);
      await tx`select roomkit.remove_member(${params.id}::uuid, ${params.user_id}::uuid)`;
    });
    // After the commit: the membership is gone, so no new token can be minted; now end the voice session.
    const voiceDisconnected = await settleVoiceEviction(params.id, params.user_id);
    return json(200, { removed: true, voice_disconnected: voiceDisconnected });
  },
});

export const handler = createHandler("coworking", [listRooms, join, leave, mic, removeParticipant]);

if (import.meta.main) Deno.serve(handler);
