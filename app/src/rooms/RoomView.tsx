import { type FormEvent, useEffect, useId, useState } from "react";
import { AI_USER_ID, type AiMode, type CloseReason, type MemberRole, type RoomkitError } from "roomkit";
import { useAppData } from "../app-data.ts";
import { useBackend } from "../backend.ts";
import { navigate } from "../router.ts";
import { Composer } from "./Composer.tsx";
import { MessageList } from "./MessageList.tsx";
import { type RoomHandle, type RoomState, useRoomSession } from "./useRoomSession.ts";

/** After this long without new messages, what is shown counts as read. */
const MARK_READ_DELAY_MS = 600;

/** A private room: conversation, who is online and typing, members, invites, leave and delete. */
export function RoomView({ roomId }: { roomId: string }) {
  const app = useAppData();
  const handle = useRoomSession(roomId);
  const { state, session } = handle;
  // Wide screens show the members beside the conversation; phones open them on demand.
  const [showMembers, setShowMembers] = useState(() => window.matchMedia("(min-width: 1000px)").matches);
  const lastId = state.messages[state.messages.length - 1]?.id;

  useEffect(() => {
    if (!session || !lastId) return;
    const mark = () => {
      if (document.visibilityState !== "visible") return;
      void session.markRead().then(() => app.refreshRooms());
    };
    const timer = setTimeout(mark, MARK_READ_DELAY_MS);
    document.addEventListener("visibilitychange", mark);
    return () => {
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", mark);
    };
  }, [session, lastId, app]);

  if (state.phase === "opening")
    return (
      <p className="muted pad" role="status">
        Opening the room…
      </p>
    );
  if (state.phase === "failed") return <FailedView error={state.error} />;
  if (state.phase === "closed")
    return <ClosedView reason={state.closedReason} name={state.details?.room.name} />;

  const room = state.details?.room ?? session?.room;
  const myRole = state.details?.members.find((m) => m.user_id === app.me.id)?.role;
  return (
    <div className="room">
      <header className="room-head">
        <a href="#/rooms" className="back" aria-label="Back to rooms">
          ←
        </a>
        <div className="room-title">
          <h2 data-testid="room-title">{room?.name}</h2>
          <OnlineLine state={state} />
        </div>
        <button
          type="button"
          aria-expanded={showMembers}
          aria-controls="members-panel"
          onClick={() => setShowMembers((v) => !v)}
        >
          Members
        </button>
      </header>
      <div className={showMembers ? "room-body with-panel" : "room-body"}>
        <div className="conversation">
          <MessageList
            session={session}
            messages={state.messages}
            reactions={state.reactions}
            replies={state.replies}
            reachedStart={state.reachedStart}
            loadingOlder={state.loadingOlder}
            loadOlder={handle.loadOlder}
            interactive
          />
          <Composer
            session={session}
            typing={state.typing}
            placeholder={room?.ai_mode === "mention" ? "Message (write @ai to ask the AI)" : "Message"}
          />
        </div>
        {showMembers && <MembersPanel handle={handle} myRole={myRole} />}
      </div>
    </div>
  );
}

function OnlineLine({ state }: { state: RoomState }) {
  const me = useAppData().me.id;
  const others = state.online.filter((u) => u.user_id !== me);
  return (
    <p className="muted small" data-testid="online">
      {others.length === 0
        ? "Only you are here"
        : `Online: ${others.map((u) => u.display_name || "someone").join(", ")}`}
    </p>
  );
}

const ROLE_LABEL: Record<MemberRole, string> = { owner: "Owner", admin: "Admin", member: "Member" };

function MembersPanel({ handle, myRole }: { handle: RoomHandle; myRole: MemberRole | undefined }) {
  const { roomkit } = useBackend();
  const app = useAppData();
  const { state } = handle;
  const room = state.details?.room;
  const members = state.details?.members ?? [];
  const onlineIds = new Set(state.online.map((u) => u.user_id));
  const canManage = myRole === "owner" || myRole === "admin";
  const [problem, setProblem] = useState<string | null>(null);
  const aiId = useId();

  if (!room) return null;
  const act = async (run: () => Promise<{ error: RoomkitError | null }>) => {
    const { error } = await run();
    setProblem(error ? error.message : null);
    if (!error) handle.refreshMembers();
  };

  return (
    <aside className="panel" id="members-panel" aria-label="Members">
      <h3>Members</h3>
      <ul className="members" data-testid="members">
        {members.map((m) => {
          const isMe = m.user_id === app.me.id;
          const isAi = m.user_id === AI_USER_ID;
          return (
            <li key={m.user_id} data-testid="member">
              <span
                className={onlineIds.has(m.user_id) || isAi ? "dot on" : "dot"}
                role="img"
                aria-label={onlineIds.has(m.user_id) ? "online" : "offline"}
              />
              <span className="member-name">
                {m.profile?.display_name ?? "…"}
                {isMe && " (you)"}
              </span>
              <span className="tag">{isAi ? "AI" : ROLE_LABEL[m.role]}</span>
              {myRole === "owner" && !isMe && !isAi && m.role !== "owner" && (
                <button
                  type="button"
                  className="small-btn"
                  onClick={() =>
                    void act(() =>
                      roomkit.rooms.setMemberRole(
                        room.id,
                        m.user_id,
                        m.role === "admin" ? "member" : "admin",
                      ),
                    )
                  }
                >
                  {m.role === "admin" ? "Make member" : "Make admin"}
                </button>
              )}
              {canManage && !isMe && !isAi && m.role !== "owner" && (
                <button
                  type="button"
                  className="small-btn danger"
                  aria-label={`Remove ${m.profile?.display_name ?? "member"}`}
                  onClick={() => {
                    if (window.confirm(`Remove ${m.profile?.display_name ?? "this member"} from the room?`))
                      void act(() => roomkit.rooms.removeMember(room.id, m.user_id));
                  }}
                >
                  Remove
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      {canManage && (
        <div className="field">
          <label htmlFor={aiId}>AI participant</label>
          <select
            id={aiId}
            value={room.ai_mode ?? "off"}
            onChange={(e) => void act(() => roomkit.rooms.setAiMode(room.id, e.target.value as AiMode))}
          >
            <option value="off">No AI</option>
            <option value="mention">Answers @ai</option>
            <option value="always">Answers every message</option>
          </select>
        </div>
      )}
      <InviteForm roomId={room.id} />
      <div className="room-actions">
        <button
          type="button"
          onClick={() => {
            if (window.confirm(`Leave ${room.name}?`))
              void act(() => roomkit.rooms.leave(room.id)).then(() => navigate("/rooms"));
          }}
        >
          Leave room
        </button>
        {myRole === "owner" && (
          <button
            type="button"
            className="danger"
            onClick={() => {
              if (window.confirm(`Delete ${room.name} for everyone? This cannot be undone.`))
                void act(() => roomkit.rooms.delete(room.id));
            }}
          >
            Delete room
          </button>
        )}
      </div>
    </aside>
  );
}

const INVITE_ERRORS: Partial<Record<string, string>> = {
  user_not_found: "Nobody has signed up with that email yet.",
  already_member: "They are already in the room.",
  invite_exists: "They already have a pending invite.",
  rate_limited: "Too many invites; wait a minute.",
  forbidden: "Only the room's owner and admins can invite.",
};

function InviteForm({ roomId }: { roomId: string }) {
  const { roomkit } = useBackend();
  const [email, setEmail] = useState("");
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const emailId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { error } = await roomkit.invites.send(roomId, { invitee_email: email.trim() });
    if (error) setOutcome({ ok: false, text: INVITE_ERRORS[error.code] ?? error.message });
    else {
      setOutcome({ ok: true, text: `Invite sent to ${email.trim()}.` });
      setEmail("");
    }
  };

  return (
    <form className="invite" onSubmit={(e) => void submit(e)} aria-label="Invite by email">
      <div className="field">
        <label htmlFor={emailId}>Invite by email</label>
        <div className="composer-row">
          <input
            id={emailId}
            type="email"
            required
            value={email}
            autoComplete="off"
            onChange={(e) => setEmail(e.target.value)}
          />
          <button type="submit">Invite</button>
        </div>
      </div>
      {outcome && (
        <p className={outcome.ok ? "ok" : "error"} role={outcome.ok ? "status" : "alert"}>
          {outcome.text}
        </p>
      )}
    </form>
  );
}

const CLOSED_TEXT: Record<CloseReason, (name: string) => string> = {
  removed: (name) => `You were removed from ${name}.`,
  room_deleted: (name) => `${name} was deleted.`,
  left: (name) => `You left ${name}.`,
  unauthorized: () => "Your access to this room ended. Sign in again to continue.",
  token_expired: () => "Your session expired. Sign in again to continue.",
  closed: (name) => `${name} is closed.`,
};

/** The room is gone for me: say why, show nothing of it any more. */
export function ClosedView({
  reason,
  name,
  back = "rooms",
}: {
  reason: CloseReason | null;
  name: string | undefined;
  back?: "rooms" | "coworking";
}) {
  const text = CLOSED_TEXT[reason ?? "closed"](name ? `“${name}”` : "the room");
  return (
    <div className="empty" role="alert" data-testid="room-closed" data-reason={reason ?? "closed"}>
      <h2>{text}</h2>
      <p className="muted">You no longer see this room's messages.</p>
      <a href={`#/${back}`}>{back === "rooms" ? "Back to your rooms" : "Back to the lobby"}</a>
    </div>
  );
}

function FailedView({ error }: { error: RoomkitError | null }) {
  const gone = error && ["unauthorized", "not_member", "room_not_found", "forbidden"].includes(error.code);
  return (
    <div className="empty" role="alert" data-testid="room-failed">
      <h2>{gone ? "This room is not available to you." : "The room could not be opened."}</h2>
      {!gone && error && <p className="muted">{error.message}</p>}
      <a href="#/rooms">Back to your rooms</a>
    </div>
  );
}
