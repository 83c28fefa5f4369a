import { z } from "zod";
import { DB_EVENTS, LOBBY_TOPIC } from "../../functions/_shared/contract.ts";
import { livekitTokenResponse, removeParticipantResponse } from "../../functions/_shared/schemas.ts";
import { joinChannel, type Subscription, subscriptionOf } from "./realtime.ts";
import {
  type CoworkingRoom,
  id,
  type JoinCoworkingResponse,
  joinCoworkingResponse,
  type Membership,
  setMicRequest,
  setMicResponse,
  type VoiceCredentials,
} from "./schemas.ts";
import { type Db, invoke, ok, query, type Result, ROOMKIT_SCHEMA, validate } from "./transport.ts";

/**
 * A lobby update: a coworking room's new participant count.
 *
 * @example
 * await roomkit.coworking.watchLobby(({ room_id, participant_count }) => counts.set(room_id, participant_count));
 */
export interface LobbyCount {
  room_id: string;
  participant_count: number;
}

/**
 * Coworking rooms: the public lobby with live counts, joining (with voice credentials for
 * LiveKit), leaving, and the microphone. Joining never overbooks a room: the last seat goes to
 * one caller and the next gets `room_full`.
 *
 * @example
 * const { data: rooms } = await roomkit.coworking.list();
 * const { data: joined, error } = await roomkit.coworking.join(rooms[0].id);
 * if (error?.code === "room_full") pickAnotherRoom();
 */
export class CoworkingClient {
  /** @internal */
  constructor(
    private readonly db: Db,
    private readonly hooks: { beforeLeave(roomId: string): void },
  ) {}

  /**
   * Active coworking rooms with their participant counts (also for signed-out visitors).
   *
   * @example
   * const { data } = await roomkit.coworking.list();
   * data?.map((r) => `${r.name} ${r.participant_count}/${r.capacity}`);
   */
  async list(): Promise<Result<CoworkingRoom[]>> {
    const result = await query<CoworkingRoom[]>(this.db.schema(ROOMKIT_SCHEMA).rpc("list_coworking_rooms"));
    if (result.error) return result;
    return ok(result.data.map((r) => ({ ...r, participant_count: Number(r.participant_count) })));
  }

  /**
   * Calls `callback` with each room's new participant count as people join and leave. Resolves
   * once listening. Pair with `list()` for the starting numbers (call `list()` after this resolves
   * so no change falls in between).
   *
   * @example
   * const counts = new Map();
   * const { data: sub } = await roomkit.coworking.watchLobby((c) => counts.set(c.room_id, c.participant_count));
   * (await roomkit.coworking.list()).data?.forEach((r) => counts.set(r.id, r.participant_count));
   */
  async watchLobby(callback: (count: LobbyCount) => void): Promise<Result<Subscription>> {
    if (typeof callback !== "function")
      throw new TypeError("watchLobby(callback): callback must be a function");
    const joined = await joinChannel(this.db, LOBBY_TOPIC, { config: { private: true } }, (channel) => {
      channel.on("broadcast", { event: DB_EVENTS.roomCount }, (m) => {
        const p = m.payload as Partial<LobbyCount> | undefined;
        if (p && typeof p.room_id === "string" && p.participant_count !== undefined) {
          callback({ room_id: p.room_id, participant_count: Number(p.participant_count) });
        }
      });
    });
    if (joined.error) return joined;
    return ok(subscriptionOf(this.db, joined.data));
  }

  /**
   * Takes a seat in a coworking room and returns my participant row and LiveKit credentials
   * (`voice.url`, `voice.token`). Idempotent for someone already in.
   * Errors: `room_full`, `room_inactive`, `room_not_found`.
   *
   * @example
   * const { data } = await roomkit.coworking.join(roomId);
   * await livekitRoom.connect(data.voice.url, data.voice.token);
   */
  async join(roomId: string): Promise<Result<JoinCoworkingResponse>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    return invoke(this.db, `coworking/rooms/${roomId}/join`, { method: "POST" }, joinCoworkingResponse);
  }

  /**
   * Gives up my seat (and my voice connection). Open sessions of this room end with reason `left`.
   *
   * @example
   * await roomkit.coworking.leave(roomId);
   */
  async leave(roomId: string): Promise<Result<null>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    this.hooks.beforeLeave(roomId);
    const result = await invoke(this.db, `coworking/rooms/${roomId}/leave`, { method: "POST" }, unknownBody);
    return result.error ? result : ok(null);
  }

  /**
   * Turns my microphone on or off; everyone in the room sees the change (`member_updated`).
   *
   * @example
   * await roomkit.coworking.setMic(roomId, true);
   */
  async setMic(roomId: string, enabled: boolean): Promise<Result<Membership>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    const body = validate(setMicRequest, { enabled });
    if (body.error) return body;
    const result = await invoke(
      this.db,
      `coworking/rooms/${roomId}/mic`,
      { method: "PUT", body: body.data },
      setMicResponse,
    );
    return result.error ? result : ok(result.data.participant);
  }

  /**
   * Fresh voice credentials for a room I am in (tokens are short-lived; ask again to reconnect).
   *
   * @example
   * const { data: voice } = await roomkit.coworking.voiceToken(roomId);
   */
  async voiceToken(roomId: string): Promise<Result<VoiceCredentials>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    return invoke(
      this.db,
      "livekit-token",
      { method: "POST", body: { room_id: roomId } },
      livekitTokenResponse,
    );
  }

  /**
   * Removes a participant (moderation; the function allows it only to the service role).
   *
   * @example
   * await adminRoomkit.coworking.removeParticipant(roomId, userId);
   */
  async removeParticipant(roomId: string, userId: string): Promise<Result<null>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    const validUser = validate(id, userId);
    if (validUser.error) return validUser;
    const result = await invoke(
      this.db,
      `coworking/rooms/${roomId}/participants/${userId}`,
      { method: "DELETE" },
      removeParticipantResponse,
    );
    return result.error ? result : ok(null);
  }
}

/** The leave endpoint's body is not part of the contract; anything 2xx is success. */
const unknownBody = z.unknown();
