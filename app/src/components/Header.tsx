import { type FormEvent, useState } from "react";
import { useAppData } from "../app-data.ts";
import { useBackend } from "../backend.ts";
import type { Route } from "../router.ts";
import { turnOffPush } from "../settings/push.ts";
import { useStore } from "../store.ts";

/** Navigation with live badges, settings, my display name (editable) and sign-out. */
export function Header({ route }: { route: Route }) {
  const app = useAppData();
  const { supabase, roomkit } = useBackend();
  const rooms = useStore(app.rooms);
  const invites = useStore(app.invites);
  const unread = rooms.data.reduce((n, r) => n + r.unread_count, 0);

  const signOut = async () => {
    // Leave the page first, so a coworking seat is given back while the session is still valid.
    window.location.hash = "";
    await new Promise((resolve) => setTimeout(resolve, 0));
    await roomkit.closeAll();
    // This device's push subscription belongs to the user signing out: the next one must not get it.
    await turnOffPush(supabase).catch(() => {});
    await supabase.auth.signOut();
  };

  return (
    <header className="top">
      <a className="brand" href="#/rooms">
        Roomkit
      </a>
      <nav aria-label="Main">
        <a className="nav-link" href="#/rooms" aria-current={route.name === "rooms" ? "page" : undefined}>
          Rooms
          {unread > 0 && (
            <span className="badge">
              {unread}
              <span className="sr-only"> unread</span>
            </span>
          )}
        </a>
        <a className="nav-link" href="#/invites" aria-current={route.name === "invites" ? "page" : undefined}>
          Invites
          {invites.data.length > 0 && (
            <span className="badge" data-testid="invite-count">
              {invites.data.length}
              <span className="sr-only"> pending</span>
            </span>
          )}
        </a>
        <a
          className="nav-link"
          href="#/coworking"
          aria-current={route.name === "coworking" ? "page" : undefined}
        >
          Coworking
        </a>
        <a
          className="nav-link"
          href="#/settings"
          aria-current={route.name === "settings" ? "page" : undefined}
        >
          Settings
        </a>
      </nav>
      <div className="me">
        <DisplayName />
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
    </header>
  );
}

function DisplayName() {
  const app = useAppData();
  const name = useStore(app.myName);
  const [editing, setEditing] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (editing === null) return;
    const problem = await app.rename(editing.trim());
    if (problem) setError(problem);
    else {
      setEditing(null);
      setError(null);
    }
  };

  if (editing === null) {
    return (
      <button
        type="button"
        className="link"
        data-testid="my-name"
        title="Change your display name"
        onClick={() => setEditing(name)}
      >
        {name || "…"}
        {app.me.isAnonymous && <span className="muted"> (guest)</span>}
      </button>
    );
  }
  return (
    <form className="inline" onSubmit={(e) => void save(e)}>
      <label className="sr-only" htmlFor="display-name">
        Display name
      </label>
      <input
        id="display-name"
        value={editing}
        maxLength={50}
        required
        // biome-ignore lint/a11y/noAutofocus: the field appears because the user asked to edit it.
        autoFocus
        onChange={(e) => setEditing(e.target.value)}
        onKeyDown={(e) => e.key === "Escape" && setEditing(null)}
      />
      <button type="submit">Save</button>
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
