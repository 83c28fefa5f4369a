import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { AI_USER_ID, type AiReply, type Message, type Reaction, type RoomSession } from "roomkit";
import { useAppData, useNames } from "../app-data.ts";

/** Scrolled this close to the top, the next older page loads. */
const LOAD_OLDER_AT_PX = 120;
/** This close to the bottom counts as "following" the conversation: new messages scroll into view. */
const FOLLOW_PX = 80;
export const REACTION_CHOICES = ["👍", "❤️", "😂", "🎉", "👀"];

interface Props {
  session: RoomSession | null;
  messages: readonly Message[];
  reactions: ReadonlyMap<string, Reaction[]>;
  replies: AiReply[];
  reachedStart: boolean;
  loadingOlder: boolean;
  loadOlder(): Promise<void>;
  /** Reactions and deleting are for private rooms; coworking chat shows messages only. */
  interactive: boolean;
}

/**
 * The conversation: older pages load as you scroll up (keeping your place), new messages scroll
 * into view while you are at the bottom, AI replies grow as they stream.
 */
export function MessageList(props: Props) {
  const { messages, replies, reachedStart, loadingOlder, loadOlder } = props;
  const me = useAppData().me.id;
  const nameOf = useNames(messages.map((m) => m.sender_id).filter((id): id is string => id !== null));
  const list = useRef<HTMLDivElement>(null);
  const last = useRef({ first: "", last: "", height: 0, following: true });
  const [unseen, setUnseen] = useState(false);

  const firstId = messages[0]?.id ?? "";
  const lastMessage = messages[messages.length - 1];
  const lastId = lastMessage?.id ?? "";
  const replyText = replies.map((r) => r.text).join("");

  useLayoutEffect(() => {
    const el = list.current;
    if (!el) return;
    const before = last.current;
    if (before.first && firstId !== before.first && lastId === before.last) {
      // Older messages were put on top: keep what the reader was looking at in place.
      el.scrollTop += el.scrollHeight - before.height;
    } else if (before.following || lastMessage?.sender_id === me || !before.first) {
      el.scrollTop = el.scrollHeight;
      setUnseen(false);
    } else if (lastId !== before.last) {
      setUnseen(true);
    }
    last.current = { first: firstId, last: lastId, height: el.scrollHeight, following: isFollowing(el) };
  }, [firstId, lastId, messages.length, replyText, replies.length]);

  // Content that grows after a render (reactions loading, wrapped lines, fonts) keeps a reader
  // who follows the conversation at the bottom.
  useEffect(() => {
    const el = list.current;
    const content = el?.querySelector("ol");
    if (!el || !content) return;
    const observer = new ResizeObserver(() => {
      if (last.current.following) el.scrollTop = el.scrollHeight;
      last.current.height = el.scrollHeight;
    });
    observer.observe(content);
    return () => observer.disconnect();
  }, []);

  const onScroll = () => {
    const el = list.current;
    if (!el) return;
    last.current.following = isFollowing(el);
    last.current.height = el.scrollHeight;
    if (last.current.following) setUnseen(false);
    if (el.scrollTop < LOAD_OLDER_AT_PX && !reachedStart && !loadingOlder) void loadOlder();
  };

  // A page that still leaves the reader near the top (short pages, a tall screen) loads the next.
  useEffect(() => {
    const el = list.current;
    if (el && !loadingOlder && !reachedStart && props.session && el.scrollTop < LOAD_OLDER_AT_PX) {
      if (el.scrollHeight > el.clientHeight) void loadOlder();
    }
  }, [loadingOlder, reachedStart, loadOlder, props.session]);

  return (
    <div className="messages-wrap">
      <div
        className="messages"
        ref={list}
        onScroll={onScroll}
        role="log"
        aria-label="Messages"
        aria-busy={loadingOlder}
        // Keyboard users scroll the log with the arrow keys once it has focus.
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable.
        tabIndex={0}
        data-testid="message-list"
      >
        <div className="history-edge">
          {reachedStart ? (
            <span className="muted" data-testid="history-start">
              This is the start of the conversation.
            </span>
          ) : (
            <button type="button" className="link" onClick={() => void loadOlder()} disabled={loadingOlder}>
              {loadingOlder ? "Loading older messages…" : "Load older messages"}
            </button>
          )}
        </div>
        <ol>
          {messages.map((m) => (
            <MessageItem
              key={m.id}
              message={m}
              mine={m.sender_id === me}
              name={nameOf(m.sender_id)}
              {...props}
            />
          ))}
          {replies.map((r) => (
            <li key={r.reply_id} className="msg ai streaming" data-testid="ai-streaming" aria-live="polite">
              <div className="meta">
                <span className="sender">{nameOf(AI_USER_ID)}</span>
              </div>
              <div className="body">
                {r.status === "error" ? (
                  <em className="error">
                    {r.retrying
                      ? "The AI hit a problem; trying again…"
                      : `The AI could not answer: ${r.error}`}
                  </em>
                ) : r.text ? (
                  <>
                    {r.text}
                    <span className="caret" aria-hidden="true" />
                  </>
                ) : (
                  <em className="muted">is thinking…</em>
                )}
              </div>
            </li>
          ))}
        </ol>
      </div>
      {unseen && (
        <button
          type="button"
          className="new-messages"
          onClick={() => {
            const el = list.current;
            if (el) el.scrollTop = el.scrollHeight;
            setUnseen(false);
          }}
        >
          New messages ↓
        </button>
      )}
    </div>
  );
}

function isFollowing(el: HTMLElement): boolean {
  return el.scrollHeight - el.scrollTop - el.clientHeight < FOLLOW_PX;
}

function MessageItem({
  message: m,
  mine,
  name,
  session,
  reactions,
  interactive,
}: Props & { message: Message; mine: boolean; name: string }) {
  const me = useAppData().me.id;
  const [picking, setPicking] = useState(false);
  const deleted = m.deleted_at !== null;
  const time = new Date(m.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  if (m.kind === "system") {
    return (
      <li className="msg system" data-testid="message" data-kind="system">
        <span>{m.body}</span> <time dateTime={m.created_at}>{time}</time>
      </li>
    );
  }

  const grouped = new Map<string, Reaction[]>();
  for (const r of reactions.get(m.id) ?? []) grouped.set(r.emoji, [...(grouped.get(r.emoji) ?? []), r]);
  const toggle = (emoji: string) => {
    if (!session) return;
    const mineAlready = grouped.get(emoji)?.some((r) => r.user_id === me);
    void (mineAlready ? session.unreact(m.id, emoji) : session.react(m.id, emoji));
    setPicking(false);
  };

  const tools = interactive && !deleted && (
    <span className="msg-tools">
      <button type="button" className="tool" aria-expanded={picking} onClick={() => setPicking((p) => !p)}>
        React
      </button>
      {mine && (
        <button
          type="button"
          className="tool danger"
          onClick={() => {
            if (window.confirm("Delete this message?")) void session?.deleteMessage(m.id);
          }}
        >
          Delete
        </button>
      )}
    </span>
  );

  return (
    <li
      className={`msg ${m.kind}${mine ? " mine" : ""}${deleted ? " deleted" : ""}`}
      data-testid="message"
      data-kind={m.kind}
      data-message-id={m.id}
    >
      <div className="meta">
        <span className="sender">{mine ? "You" : name}</span> <time dateTime={m.created_at}>{time}</time>
        {tools}
      </div>
      <div className={m.kind === "emoji" ? "body emoji" : "body"} data-testid="message-body">
        {deleted ? <em className="muted">Message deleted</em> : m.body}
      </div>
      {interactive && !deleted && (grouped.size > 0 || picking) && (
        <div className="reactions">
          {[...grouped].map(([emoji, list]) => (
            <button
              type="button"
              key={emoji}
              className="reaction"
              aria-pressed={list.some((r) => r.user_id === me)}
              aria-label={`${emoji} ${list.length}, react with ${emoji}`}
              onClick={() => toggle(emoji)}
            >
              {emoji} {list.length}
            </button>
          ))}
          {picking && (
            <fieldset className="picker">
              <legend className="sr-only">Choose a reaction</legend>
              {REACTION_CHOICES.map((e) => (
                <button type="button" key={e} aria-label={`React with ${e}`} onClick={() => toggle(e)}>
                  {e}
                </button>
              ))}
            </fieldset>
          )}
        </div>
      )}
    </li>
  );
}
