/**
 * LiveKit for coworking voice: access tokens, the RoomService (moderation) and webhook
 * verification, all through `livekit-server-sdk`, with credentials from `LIVEKIT_URL`,
 * `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET`.
 *
 * Revocation: LiveKit has no token revocation list, and a token's `exp` only gates the first
 * connection. Roomkit therefore mints short tokens (`VOICE_TOKEN_TTL_SECONDS`) only for current
 * participants, and a kick calls `RemoveParticipant` with `revokeTokenTs` = now, which makes
 * LiveKit refuse every token of that identity issued (nbf) before the kick.
 */
import { AccessToken, RoomServiceClient, TrackSource, TwirpError, WebhookReceiver } from "livekit-server-sdk";
import { type LivekitEnv, livekitEnv, loadEnv } from "./env.ts";
import type { VoiceCredentials } from "./schemas.ts";

/** Token lifetime: short, because LiveKit cannot revoke a token (only `RemoveParticipant`). At most 15 minutes. */
export const VOICE_TOKEN_TTL_SECONDS = 10 * 60;

/** LiveKit room names are derived from Roomkit room ids, so no mapping table is needed. */
const ROOM_PREFIX = "roomkit-";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** LiveKit room name of a Roomkit room: `roomkit-<room id>`. */
export function livekitRoomName(roomId: string): string {
  return `${ROOM_PREFIX}${roomId.toLowerCase()}`;
}

/** The Roomkit room id of a LiveKit room name, or undefined for rooms Roomkit did not name. */
export function roomIdFromLivekitRoom(name: string | undefined): string | undefined {
  if (!name?.startsWith(ROOM_PREFIX)) return undefined;
  const id = name.slice(ROOM_PREFIX.length);
  return UUID.test(id) ? id.toLowerCase() : undefined;
}

/** LiveKit settings, validated on first use (names the missing variable). */
export function livekitConfig(): LivekitEnv {
  return loadEnv(livekitEnv);
}

/**
 * A voice token for one participant: identity = user id, audio-only publishing, may subscribe and
 * send data, valid `VOICE_TOKEN_TTL_SECONDS`.
 *
 * @example
 * const voice = await mintVoiceToken({ roomId, userId: caller.id, name: "Ada" });
 * // → { url: "wss://…", token: "eyJ…", expires_at: "2026-…" }
 */
export async function mintVoiceToken(input: {
  roomId: string;
  userId: string;
  name: string;
}): Promise<VoiceCredentials> {
  const config = livekitConfig();
  const token = new AccessToken(config.LIVEKIT_API_KEY, config.LIVEKIT_API_SECRET, {
    identity: input.userId,
    name: input.name,
    ttl: VOICE_TOKEN_TTL_SECONDS,
  });
  token.addGrant({
    roomJoin: true,
    room: livekitRoomName(input.roomId),
    canPublish: true,
    canPublishSources: [TrackSource.MICROPHONE],
    canSubscribe: true,
    canPublishData: true,
  });
  const jwt = await token.toJwt();
  const expiresAt = new Date(Date.now() + VOICE_TOKEN_TTL_SECONDS * 1000).toISOString();
  return { url: config.LIVEKIT_URL, token: jwt, expires_at: expiresAt };
}

let roomService: RoomServiceClient | undefined;

/** The RoomService client (Twirp over HTTP to `LIVEKIT_URL`). */
export function livekitRoomService(): RoomServiceClient {
  const config = livekitConfig();
  roomService ??= new RoomServiceClient(
    config.LIVEKIT_URL,
    config.LIVEKIT_API_KEY,
    config.LIVEKIT_API_SECRET,
  );
  return roomService;
}

/**
 * Disconnects a user from a room's voice and invalidates every token they were given before now.
 * Resolves true when LiveKit confirmed (or the user was not connected), false when LiveKit could
 * not be reached (logged; the token then lapses within its TTL and cannot be renewed).
 *
 * @example
 * const disconnected = await disconnectFromVoice(roomId, userId);
 */
export async function disconnectFromVoice(roomId: string, userId: string): Promise<boolean> {
  try {
    await livekitRoomService().removeParticipant(livekitRoomName(roomId), userId, {
      revokeTokenTs: BigInt(Math.floor(Date.now() / 1000)),
    });
    return true;
  } catch (error) {
    // Twirp `not_found`: the user was not in the LiveKit room, which is the outcome we want.
    if (error instanceof TwirpError && error.code === "not_found") return true;
    console.error(`LiveKit RemoveParticipant failed for ${userId} in ${roomId}:`, error);
    return false;
  }
}

/**
 * Ends a whole room's voice (LiveKit `DeleteRoom`: everyone in it is disconnected). True when
 * LiveKit confirmed or the room did not exist, false when LiveKit could not be reached (logged).
 *
 * @example
 * await closeVoiceRoom(deletedRoomId);
 */
export async function closeVoiceRoom(roomId: string): Promise<boolean> {
  try {
    await livekitRoomService().deleteRoom(livekitRoomName(roomId));
    return true;
  } catch (error) {
    if (error instanceof TwirpError && error.code === "not_found") return true;
    console.error(`LiveKit DeleteRoom failed for ${roomId}:`, error);
    return false;
  }
}

/** Is LiveKit configured for these functions? Without it there is no voice to end. */
export function voiceConfigured(): boolean {
  try {
    livekitConfig();
    return true;
  } catch {
    return false;
  }
}

let receiver: WebhookReceiver | undefined;

/** Verifies LiveKit webhooks (JWT in `Authorization` carrying the body's sha256) with the API key and secret. */
export function livekitWebhookReceiver(): WebhookReceiver {
  const config = livekitConfig();
  receiver ??= new WebhookReceiver(config.LIVEKIT_API_KEY, config.LIVEKIT_API_SECRET);
  return receiver;
}
