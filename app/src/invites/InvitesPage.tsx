import { useState } from "react";
import type { InviteWithNames } from "roomkit";
import { useAppData } from "../app-data.ts";
import { useBackend } from "../backend.ts";
import { navigate } from "../router.ts";
import { useStore } from "../store.ts";

/** Pending invites, updated live (`roomkit.invites.onInvite`, kept in AppData): accept or decline. */
export function InvitesPage() {
  const app = useAppData();
  const invites = useStore(app.invites);
  return (
    <section className="page">
      <h1>Invites</h1>
      {!invites.loaded && <p className="muted">Loading…</p>}
      {invites.loaded && invites.data.length === 0 && (
        <p className="muted" data-testid="no-invites">
          No pending invites. When someone invites you to a room, it shows up here at once.
        </p>
      )}
      <ul className="invites" data-testid="invites">
        {invites.data.map((invite) => (
          <InviteItem key={invite.id} invite={invite} />
        ))}
      </ul>
    </section>
  );
}

function InviteItem({ invite }: { invite: InviteWithNames }) {
  const { roomkit } = useBackend();
  const app = useAppData();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const roomName = invite.room?.name ?? "a room";
  const from = invite.inviter?.display_name ?? "Someone";

  const accept = async () => {
    setBusy(true);
    const { error } = await roomkit.invites.accept(invite.id);
    if (error) {
      setBusy(false);
      setError(error.message);
      return;
    }
    await Promise.all([app.refreshInvites(), app.refreshRooms()]);
    navigate(`/rooms/${invite.room_id}`);
  };
  const decline = async () => {
    setBusy(true);
    const { error } = await roomkit.invites.decline(invite.id);
    setBusy(false);
    if (error) setError(error.message);
    await app.refreshInvites();
  };

  return (
    <li className="card invite-item" data-testid="invite">
      <p>
        <strong>{from}</strong> invited you to <strong>{roomName}</strong>
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="row">
        <button
          type="button"
          className="primary"
          disabled={busy}
          onClick={() => void accept()}
          aria-label={`Accept invite to ${roomName}`}
        >
          Accept
        </button>
        <button
          type="button"
          disabled={busy}
          onClick={() => void decline()}
          aria-label={`Decline invite to ${roomName}`}
        >
          Decline
        </button>
      </div>
    </li>
  );
}
