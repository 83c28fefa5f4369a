import { type FormEvent, useEffect, useId, useState } from "react";
import { useAppData } from "../app-data.ts";
import { useBackend } from "../backend.ts";
import {
  ALL_ON,
  loadPreferences,
  NOTIFICATION_KINDS,
  type NotificationKind,
  type NotificationPreferences,
  savePreferences,
} from "./preferences.ts";
import { type PushState, readPushState, turnOffPush, turnOnPush } from "./push.ts";

/**
 * Notifications (push on this device, and which kinds reach me by email and push), and a password
 * for an account with an address (guests have none to sign in with).
 */
export function SettingsPage() {
  const app = useAppData();
  return (
    <section className="page settings">
      <h1>Settings</h1>
      <PushSettings />
      <NotificationKinds />
      {!app.me.isAnonymous && <PasswordSettings />}
    </section>
  );
}

/** What each push state tells the user; `off` and `on` also get a button. */
const PUSH_TEXT: Record<PushState, string> = {
  unsupported: "This browser cannot show push notifications. You still get them by email.",
  denied:
    "Notifications are blocked for this site. Allow them in your browser's site settings, then come back here.",
  unconfigured: "Push notifications are not set up on this server (it has no VAPID key).",
  off: "Push notifications are off on this device.",
  on: "Push notifications are on for this device.",
};

function PushSettings() {
  const { supabase } = useBackend();
  const [state, setState] = useState<PushState | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const headingId = useId();

  useEffect(() => {
    let current = true;
    readPushState(supabase).then(
      (next) => {
        if (current) setState(next);
      },
      (e: unknown) => {
        if (!current) return;
        setState("off");
        setError(messageOf(e));
      },
    );
    return () => {
      current = false;
    };
  }, [supabase]);

  const run = async (action: typeof turnOnPush) => {
    setBusy(true);
    setError(null);
    try {
      const result = await action(supabase);
      setState(result.state);
      setError(result.error ?? null);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card settings-section" aria-labelledby={headingId}>
      <h2 id={headingId}>Push on this device</h2>
      <p role="status" data-testid="push-state" data-state={state ?? "loading"}>
        {state ? PUSH_TEXT[state] : "Checking…"}
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {state === "off" && (
        <button type="button" className="primary" disabled={busy} onClick={() => void run(turnOnPush)}>
          Turn on push notifications
        </button>
      )}
      {state === "on" && (
        <button type="button" disabled={busy} onClick={() => void run(turnOffPush)}>
          Turn off push notifications
        </button>
      )}
    </section>
  );
}

function NotificationKinds() {
  const { supabase } = useBackend();
  const [preferences, setPreferences] = useState<NotificationPreferences | null>(null);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    void loadPreferences(supabase).then(({ data, error }) => {
      if (!current) return;
      setPreferences(data);
      setError(error);
    });
    return () => {
      current = false;
    };
  }, [supabase]);

  const toggle = async (kind: NotificationKind, on: boolean) => {
    const before = preferences ?? ALL_ON;
    const next = { ...before, [kind]: on };
    setPreferences(next);
    setSaved(false);
    setError(null);
    const problem = await savePreferences(supabase, next);
    if (problem) {
      setPreferences(before);
      setError(problem);
    } else setSaved(true);
  };

  return (
    <section className="card settings-section">
      <fieldset disabled={!preferences}>
        <legend>Notify me about</legend>
        <p className="muted small">By email, and by push on the devices where it is on.</p>
        {NOTIFICATION_KINDS.map(({ kind, label, hint }) => (
          <KindCheckbox
            key={kind}
            label={label}
            hint={hint}
            checked={(preferences ?? ALL_ON)[kind]}
            onChange={(on) => void toggle(kind, on)}
          />
        ))}
      </fieldset>
      <SaveStatus testId="preferences-saved" done={saved ? "Saved." : ""} error={error} />
    </section>
  );
}

/**
 * Sets the password (`PUT /auth/v1/user`). Someone who joined through an invite mail has none
 * until they set one here; until then they sign in with an emailed link.
 */
function PasswordSettings() {
  const { supabase } = useBackend();
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { heading: useId(), password: useId() };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setSaved(false);
    setError(null);
    const { error } = await supabase.auth.updateUser({ password });
    if (error) setError(error.message);
    else {
      setSaved(true);
      setPassword("");
    }
    setBusy(false);
  };

  return (
    <section className="card settings-section" aria-labelledby={ids.heading}>
      <h2 id={ids.heading}>Password</h2>
      <p className="muted small">Set one to sign in with it, as well as with a link by email.</p>
      <form onSubmit={(e) => void submit(e)}>
        <div className="field">
          <label htmlFor={ids.password}>New password</label>
          <input
            id={ids.password}
            type="password"
            required
            minLength={6}
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <button type="submit" className="primary" disabled={busy}>
          Set password
        </button>
      </form>
      <SaveStatus testId="password-saved" done={saved ? "Password set." : ""} error={error} />
    </section>
  );
}

/** What became of a save: a polite status line, and the error as an alert. */
function SaveStatus(props: { testId: string; done: string; error: string | null }) {
  return (
    <>
      <p role="status" className="ok small" data-testid={props.testId}>
        {props.done}
      </p>
      {props.error && (
        <p className="error" role="alert">
          {props.error}
        </p>
      )}
    </>
  );
}

function KindCheckbox(props: {
  label: string;
  hint: string;
  checked: boolean;
  onChange: (on: boolean) => void;
}) {
  const id = useId();
  return (
    <div className="check">
      <input
        id={id}
        type="checkbox"
        checked={props.checked}
        aria-describedby={`${id}-hint`}
        onChange={(e) => props.onChange(e.target.checked)}
      />
      <label htmlFor={id}>{props.label}</label>
      <span id={`${id}-hint`} className="muted small">
        {props.hint}
      </span>
    </div>
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
