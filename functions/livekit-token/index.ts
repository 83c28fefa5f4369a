/**
 * `livekit-token`: a fresh voice token for a current participant of a coworking room (clients call
 * it again before `expires_at` to reconnect).
 *
 * `POST /livekit-token` `{room_id}` → `{url, token, expires_at}`. 404 `room_not_found`;
 * 403 `not_member` when the caller is not in the room, `forbidden` for a private room (no voice);
 * 409 `room_inactive`.
 */
import { requireUser } from "../_shared/auth.ts";
import { asUser } from "../_shared/db.ts";
import { ApiError } from "../_shared/errors.ts";
import { createHandler, json, route } from "../_shared/http.ts";
import { livekitConfig, mintVoiceToken } from "../_shared/livekit.ts";
import { livekitTokenRequest } from "../_shared/schemas.ts";

livekitConfig();

const issue = route({
  method: "POST",
  path: "/",
  body: livekitTokenRequest,
  auth: requireUser,
  async run({ body, caller }) {
    const voice = await asUser(caller, async (tx) => {
      const [room] = await tx<{ kind: string; status: string; participant: boolean; name: string }[]>`
        select r.kind, r.status,
               exists (select 1 from roomkit.room_members m
                       where m.room_id = r.id and m.user_id = ${caller.id} and m.left_at is null) as participant,
               roomkit_private.display_name(${caller.id}::uuid) as name
        from roomkit.rooms r where r.id = ${body.room_id}`;
      if (!room) throw new ApiError("room_not_found", "Room not found");
      if (room.kind !== "coworking")
        throw new ApiError("forbidden", "Voice is available in coworking rooms only");
      if (!room.participant) throw new ApiError("not_member", "Join the room before connecting to its voice");
      if (room.status !== "active") throw new ApiError("room_inactive", "This room is closed");
      return mintVoiceToken({ roomId: body.room_id, userId: caller.id, name: room.name });
    });
    return json(200, voice);
  },
});

export const handler = createHandler("livekit-token", [issue]);

if (import.meta.main) Deno.serve(handler);
