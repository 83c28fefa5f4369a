import { type FormEvent, useId, useState } from "react";
import type { RoomSession } from "roomkit";
import { useNames } from "../app-data.ts";

/** "X is typing…", the message field (Enter sends) and its errors. */
export function Composer({
  session,
  typing,
  placeholder,
  disabled,
}: {
  session: RoomSession | null;
  typing: string[];
  placeholder: string;
  disabled?: boolean;
}) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const nameOf = useNames(typing);
  const inputId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!session || !text.trim()) return;
    setSending(true);
    const { error } = await session.send(text);
    setSending(false);
    if (error) setError(error.code === "rate_limited" ? "Slow down a little." : error.message);
    else {
      setText("");
      setError(null);
    }
  };

  return (
    <form className="composer" onSubmit={(e) => void submit(e)}>
      <p className="typing" aria-live="polite" data-testid="typing">
        {typingLine(typing.map((id) => nameOf(id)))}
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="composer-row">
        <label htmlFor={inputId} className="sr-only">
          Message
        </label>
        <input
          id={inputId}
          value={text}
          placeholder={placeholder}
          maxLength={4000}
          autoComplete="off"
          disabled={disabled || !session}
          onChange={(e) => {
            setText(e.target.value);
            if (e.target.value) session?.typing();
            else session?.stopTyping();
          }}
        />
        <button type="submit" className="primary" disabled={disabled || !session || sending || !text.trim()}>
          Send
        </button>
      </div>
    </form>
  );
}

function typingLine(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}
