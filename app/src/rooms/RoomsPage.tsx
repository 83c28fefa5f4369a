import { type FormEvent, useId, useState } from "react";
import type { AiMode } from "roomkit";
import { useAppData } from "../app-data.ts";
import { useBackend } from "../backend.ts";
import { navigate } from "../router.ts";
import { useStore } from "../store.ts";
import { RoomView } from "./RoomView.tsx";

/** My private rooms (unread counts) beside the open room; on a phone, one or the other. */
export function RoomsPage({ roomId }: { roomId: string | undefined }) {
  return (
    <div className={roomId ? "split has-detail" : "split"}>
      <aside className="sidebar" aria-label="Your rooms">
        <CreateRoom />
        <RoomList current={roomId} />
      </aside>
      <section className="detail">
        {roomId ? (
          <RoomView key={roomId} roomId={roomId} />
        ) : (
          <div className="empty">
            <h2>Pick a room</h2>
            <p className="muted">Or create one, and invite people by email.</p>
          </div>
        )}
      </section>
    </div>
  );
}

function RoomList({ current }: { current: string | undefined }) {
  const rooms = useStore(useAppData().rooms);
  if (!rooms.loaded) return <p className="muted">Loading rooms…</p>;
  if (rooms.error && rooms.data.length === 0) return <p className="error">{rooms.error}</p>;
  if (rooms.data.length === 0) return <p className="muted">No rooms yet.</p>;
  return (
    <ul className="room-list" data-testid="room-list">
      {rooms.data.map((room) => (
        <li key={room.id}>
          <a
            href={`#/rooms/${room.id}`}
            aria-current={room.id === current ? "page" : undefined}
            data-testid="room-link"
          >
            <span className="room-name">{room.name}</span>
            {room.ai_mode !== "off" && <span className="tag">AI</span>}
            {room.unread_count > 0 && (
              <span className="badge" data-testid="unread">
                {room.unread_count}
                <span className="sr-only"> unread</span>
              </span>
            )}
          </a>
        </li>
      ))}
    </ul>
  );
}

const AI_MODES: { value: AiMode; label: string }[] = [
  { value: "off", label: "No AI" },
  { value: "mention", label: "AI answers @ai" },
  { value: "always", label: "AI answers every message" },
];

function CreateRoom() {
  const { roomkit } = useBackend();
  const app = useAppData();
  const [name, setName] = useState("");
  const [aiMode, setAiMode] = useState<AiMode>("mention");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = { name: useId(), ai: useId() };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    const { data, error } = await roomkit.rooms.create({ name, ai_mode: aiMode });
    setBusy(false);
    if (error) {
      setError(
        error.code === "rate_limited" ? "You are creating rooms too fast; wait a minute." : error.message,
      );
      return;
    }
    setName("");
    setError(null);
    await app.refreshRooms();
    navigate(`/rooms/${data.id}`);
  };

  return (
    <form className="create-room" onSubmit={(e) => void submit(e)} aria-label="New room">
      <h2>New room</h2>
      <div className="field">
        <label htmlFor={ids.name}>Room name</label>
        <input
          id={ids.name}
          value={name}
          required
          maxLength={100}
          onChange={(e) => setName(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={ids.ai}>AI participant</label>
        <select id={ids.ai} value={aiMode} onChange={(e) => setAiMode(e.target.value as AiMode)}>
          {AI_MODES.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </select>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" className="primary" disabled={busy || !name.trim()}>
        Create room
      </button>
    </form>
  );
}
