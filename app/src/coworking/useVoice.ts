import type { Room } from "livekit-client";
import { useCallback, useEffect, useRef, useState } from "react";
import type { VoiceCredentials } from "roomkit";

export type VoiceStatus =
  | "not_configured"
  | "waiting"
  | "connecting"
  | "connected"
  | "reconnecting"
  | "failed";

export interface Voice {
  status: VoiceStatus;
  error: string | null;
  /** User ids LiveKit reports as speaking now (its participant identity is the Roomkit user id). */
  speaking: string[];
  /** Publishes or mutes my microphone (asks for it the first time). */
  setMicrophone(enabled: boolean): Promise<string | null>;
}

/**
 * Voice through LiveKit with the credentials `roomkit.coworking.join` returned. `livekit-client`
 * loads only when voice is configured, so chat-only deployments never download it.
 */
export function useVoice(credentials: VoiceCredentials | null, configured: boolean): Voice {
  const [status, setStatus] = useState<VoiceStatus>(configured ? "waiting" : "not_configured");
  const [error, setError] = useState<string | null>(null);
  const [speaking, setSpeaking] = useState<string[]>([]);
  const room = useRef<Room | null>(null);

  useEffect(() => {
    if (!configured || !credentials) return;
    let cancelled = false;
    let current: Room | null = null;
    const audio = new Map<string, HTMLMediaElement[]>();
    setStatus("connecting");
    void (async () => {
      try {
        const { Room, RoomEvent, Track } = await import("livekit-client");
        if (cancelled) return;
        current = new Room();
        room.current = current;
        current
          .on(RoomEvent.ActiveSpeakersChanged, (speakers) => setSpeaking(speakers.map((p) => p.identity)))
          .on(RoomEvent.TrackSubscribed, (track, publication) => {
            if (track.kind !== Track.Kind.Audio) return;
            const el = track.attach();
            el.dataset.livekit = "audio";
            document.body.appendChild(el);
            audio.set(publication.trackSid, [el]);
          })
          .on(RoomEvent.TrackUnsubscribed, (track, publication) => {
            track.detach();
            for (const el of audio.get(publication.trackSid) ?? []) el.remove();
            audio.delete(publication.trackSid);
          })
          .on(RoomEvent.Reconnecting, () => setStatus("reconnecting"))
          .on(RoomEvent.Reconnected, () => setStatus("connected"))
          .on(RoomEvent.Disconnected, () => {
            if (!cancelled) setStatus("failed");
          });
        await current.connect(credentials.url, credentials.token);
        if (!cancelled) setStatus("connected");
      } catch (cause) {
        if (cancelled) return;
        setStatus("failed");
        setError(cause instanceof Error ? cause.message : String(cause));
      }
    })();
    return () => {
      cancelled = true;
      room.current = null;
      void current?.disconnect();
      for (const els of audio.values()) for (const el of els) el.remove();
      setSpeaking([]);
    };
  }, [configured, credentials]);

  const setMicrophone = useCallback(async (enabled: boolean) => {
    const current = room.current;
    if (!current) return null;
    try {
      // Browsers allow audio playback only after a user gesture: the mic switch is one.
      await current.startAudio();
      await current.localParticipant.setMicrophoneEnabled(enabled);
      return null;
    } catch (cause) {
      return cause instanceof Error ? cause.message : String(cause);
    }
  }, []);

  return { status, error, speaking, setMicrophone };
}
