import { useCallback, useEffect, useRef, useState } from "react";
import type { EmojiBurst, RoomkitError, VoiceCredentials } from "roomkit";
import { useAppData } from "../app-data.ts";
import { useBackend } from "../backend.ts";
import { Composer } from "../rooms/Composer.tsx";
import { MessageList } from "../rooms/MessageList.tsx";
import { ClosedView } from "../rooms/RoomView.tsx";
import { useRoomSession } from "../rooms/useRoomSession.ts";
import { navigate } from "../router.ts";
import { useVoice, type Voice } from "./useVoice.ts";

const EMOJI = ["👋", "🎉", "👏", "☕", "🔥", "❤️"];
/** How long a burst floats on screen. */
const BURST_MS = 2500;

interface Burst extends EmojiBurst {
  key: number;
  left: number;
}

/**
 * A coworking room: joining takes a seat (the server refuses a full room), then the live
 * session shows participants with mic and speaking state, chat with join/leave notices, emoji
 * and bursts. Leaving the page gives the seat back; a closed tab is swept by the server.
 */
export function CoworkingRoomView({ roomId }: { roomId: string }) {
  const { roomkit, config } = useBackend();
  const app = useAppData();
  const [credentials, setCredentials] = useState<VoiceCredentials | null>(null);
  const [bursts, setBursts] = useState<Burst[]>([]);
  const nextBurst = useRef(0);
  const [micError, setMicError] = useState<string | null>(null);

  const showBurst = useCallback((burst: EmojiBurst) => {
    const key = nextBurst.current++;
    setBursts((list) => [...list, { ...burst, key, left: 10 + Math.random() * 80 }]);
    setTimeout(() => setBursts((list) => list.filter((b) => b.key !== key)), BURST_MS);
  }, []);
  const prepare = useCallback(async (): Promise<RoomkitError | null> => {
    const { data, error } = await roomkit.coworking.join(roomId);
    if (error) return error;
    setCredentials(data.voice);
    return null;
  }, [roomkit, roomId]);

  const handle = useRoomSession(roomId, { prepare, onBurst: showBurst });
  const { state, session } = handle;
  const voice = useVoice(credentials, config.voice);

  // Leaving the page (not closing the tab) gives the seat back at once.
  const seated = state.phase === "open";
  useEffect(() => {
    if (!seated) return;
    return () => void roomkit.coworking.leave(roomId);
  }, [seated, roomkit, roomId]);

  // What LiveKit hears of me, others see even without voice of their own.
  const speakingMe = voice.speaking.includes(app.me.id);
  useEffect(() => session?.setSpeaking(speakingMe), [session, speakingMe]);

  if (state.phase === "opening")
    return (
      <p className="muted pad" role="status">
        Joining…
      </p>
    );
  if (state.phase === "failed") return <JoinFailed roomId={roomId} error={state.error} />;
  if (state.phase === "closed") {
    return <ClosedView reason={state.closedReason} name={state.details?.room.name} back="coworking" />;
  }

  const room = state.details?.room ?? session?.room;
  const participants = state.details?.members ?? [];
  const micOn = participants.find((p) => p.user_id === app.me.id)?.mic_enabled ?? false;
  const speaking = new Set([...voice.speaking, ...state.speaking]);

  const toggleMic = async () => {
    if (!session) return;
    const next = !micOn;
    const { error } = await session.setMic(next);
    if (error) {
      setMicError(error.message);
      return;
    }
    handle.refreshMembers();
    setMicError(await voice.setMicrophone(next));
  };

  return (
    <div className="room coworking">
      <header className="room-head">
        <a href="#/coworking" className="back" aria-label="Back to the lobby">
          ←
        </a>
        <div className="room-title">
          <h2 data-testid="room-title">{room?.name}</h2>
          <p className="muted small">
            {participants.length} of {room?.capacity ?? "?"} here
          </p>
        </div>
        <button
          type="button"
          className={micOn ? "mic on" : "mic"}
          aria-pressed={micOn}
          data-testid="mic-toggle"
          onClick={() => void toggleMic()}
        >
          {micOn ? "🎙 Mic on" : "🔇 Mic off"}
        </button>
        <button
          type="button"
          onClick={() => void session?.leave().then(() => navigate("/coworking"))}
          data-testid="leave"
        >
          Leave
        </button>
      </header>
      <VoiceStatusLine voice={voice} micError={micError} />
      <div className="room-body with-panel">
        <div className="conversation">
          <MessageList
            session={session}
            messages={state.messages}
            reactions={state.reactions}
            replies={[]}
            reachedStart={state.reachedStart}
            loadingOlder={state.loadingOlder}
            loadOlder={handle.loadOlder}
            interactive={false}
          />
          <fieldset className="emoji-bar">
            <legend className="sr-only">Emoji</legend>
            {EMOJI.map((e) => (
              <button
                type="button"
                key={e}
                aria-label={`Send ${e}`}
                onClick={() => void session?.sendEmoji(e)}
              >
                {e}
              </button>
            ))}
            <span className="divider-v" aria-hidden="true" />
            {EMOJI.slice(1, 4).map((e) => (
              <button
                type="button"
                key={`burst-${e}`}
                className="burst-btn"
                aria-label={`Burst ${e}`}
                onClick={() => {
                  session?.sendBurst(e);
                  showBurst({ user_id: app.me.id, emoji: e });
                }}
              >
                {e}✨
              </button>
            ))}
          </fieldset>
          <Composer session={session} typing={state.typing} placeholder="Say hi to the room" />
        </div>
        <aside className="panel" aria-label="Participants">
          <h3>Participants</h3>
          <ul className="members" data-testid="participants">
            {participants.map((p) => {
              const name = p.profile?.display_name ?? "…";
              return (
                <li
                  key={p.user_id}
                  data-testid="participant"
                  data-user-id={p.user_id}
                  data-mic={p.mic_enabled ? "on" : "off"}
                  data-speaking={speaking.has(p.user_id) ? "yes" : "no"}
                  className={speaking.has(p.user_id) ? "speaking" : undefined}
                >
                  <span className="avatar" aria-hidden="true">
                    {name.slice(0, 1).toUpperCase()}
                  </span>
                  <span className="member-name">
                    {name}
                    {p.user_id === app.me.id && " (you)"}
                  </span>
                  <span className="mic-state" role="img" aria-label={p.mic_enabled ? "mic on" : "mic off"}>
                    {p.mic_enabled ? "🎙" : "🔇"}
                  </span>
                  {speaking.has(p.user_id) && <span className="sr-only">speaking</span>}
                </li>
              );
            })}
          </ul>
        </aside>
      </div>
      <div className="bursts" aria-hidden="true">
        {bursts.map((b) => (
          <span key={b.key} className="burst" style={{ left: `${b.left}%` }} data-testid="burst">
            {b.emoji}
          </span>
        ))}
      </div>
    </div>
  );
}

function VoiceStatusLine({ voice, micError }: { voice: Voice; micError: string | null }) {
  const text: Record<Voice["status"], string> = {
    not_configured:
      "Voice is not configured on this server (no LiveKit settings), so this room is text only. Mic state is still shared.",
    waiting: "Voice: waiting for the seat…",
    connecting: "Voice: connecting…",
    connected: "Voice connected. Switch your mic on to talk.",
    reconnecting: "Voice: reconnecting…",
    failed: `Voice is unavailable${voice.error ? `: ${voice.error}` : ""}. Chat still works.`,
  };
  return (
    <p className={`voice-status ${voice.status}`} role="status" data-testid="voice-status">
      {text[voice.status]}
      {micError && <span className="error"> Microphone: {micError}</span>}
    </p>
  );
}

function JoinFailed({ roomId, error }: { roomId: string; error: RoomkitError | null }) {
  const { roomkit } = useBackend();
  const [room, setRoom] = useState<{ name: string; capacity: number } | null>(null);
  useEffect(() => {
    void roomkit.coworking.list().then(({ data }) => setRoom(data?.find((r) => r.id === roomId) ?? null));
  }, [roomkit, roomId]);
  const name = room ? `“${room.name}”` : "This room";
  const text =
    error?.code === "room_full"
      ? `${name} is full${room ? ` (${room.capacity} of ${room.capacity})` : ""}. Try again when someone leaves.`
      : error?.code === "room_inactive"
        ? `${name} is closed right now.`
        : error?.code === "forbidden"
          ? "You were removed from this room recently; try again later."
          : `Could not join: ${error?.message ?? "unknown error"}`;
  return (
    <div className="empty" role="alert" data-testid="join-failed" data-code={error?.code}>
      <h2>{text}</h2>
      <a href="#/coworking">Back to the lobby</a>
    </div>
  );
}
