import { useEffect, useState } from "react";
import type { CoworkingRoom } from "roomkit";
import { useAppData } from "../app-data.ts";
import { useBackend } from "../backend.ts";
import { useStore } from "../store.ts";

/** Public coworking rooms with live participant counts (`roomkit.coworking.watchLobby`). */
export function Lobby() {
  const { roomkit } = useBackend();
  const { generation } = useStore(useAppData().connection);
  const [rooms, setRooms] = useState<CoworkingRoom[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  // Re-read the list on every (re)connection: counts broadcast while disconnected are gone.
  useEffect(() => {
    let stopped = false;
    void roomkit.coworking.list().then(({ data, error }) => {
      if (stopped) return;
      if (error) setError(error.message);
      else setRooms(data);
    });
    return () => {
      stopped = true;
    };
  }, [roomkit, generation]);

  useEffect(() => {
    let stopped = false;
    let unsubscribe: (() => Promise<unknown>) | undefined;
    void roomkit.coworking
      .watchLobby(({ room_id, participant_count }) =>
        setRooms((list) => list?.map((r) => (r.id === room_id ? { ...r, participant_count } : r)) ?? list),
      )
      .then(({ data }) => {
        if (stopped) void data?.unsubscribe();
        else unsubscribe = data ? () => data.unsubscribe() : undefined;
      });
    return () => {
      stopped = true;
      void unsubscribe?.();
    };
  }, [roomkit]);

  return (
    <section className="page">
      <h1>Coworking</h1>
      <p className="muted">
        Drop into a room to work alongside others. Chat, react, and talk when voice is on.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!rooms && !error && <p className="muted">Loading rooms…</p>}
      <ul className="lobby" data-testid="lobby">
        {rooms?.map((room) => {
          const full = room.participant_count >= room.capacity;
          const inactive = room.status !== "active";
          return (
            <li key={room.id} className="card lobby-room" data-testid="lobby-room" data-room-id={room.id}>
              <h2>{room.name}</h2>
              {room.description && <p className="muted">{room.description}</p>}
              <p data-testid="lobby-count">
                <span className="count">{room.participant_count}</span> of {room.capacity} here
                {full && (
                  <strong className="full" data-testid="lobby-full">
                    {" "}
                    · Full
                  </strong>
                )}
              </p>
              <meter min={0} max={room.capacity} value={room.participant_count} aria-label="Seats taken" />
              {inactive ? (
                <p className="muted">Closed right now</p>
              ) : full ? (
                <button type="button" disabled>
                  Full
                </button>
              ) : (
                <a
                  className="button primary"
                  href={`#/coworking/${room.id}`}
                  aria-label={`Join ${room.name}`}
                >
                  Join
                </a>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
