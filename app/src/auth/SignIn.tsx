import { type FormEvent, useId, useState } from "react";
import { useBackend } from "../backend.ts";

/**
 * Auth's answer to a sign-in link asked for an address with no account (`shouldCreateUser: false`;
 * GoTrue's `otp.go`: 422 "Signups not allowed for otp"). The page says the same as on success, so
 * it does not tell who has an account.
 */
const NO_ACCOUNT = "otp_disabled";

const FORM_NAMES = {
  "sign-in": "Sign in",
  "sign-up": "Create account",
  link: "Sign-in link",
} as const;

/**
 * Email and password (sign in or create an account), a sign-in link by email (for someone without
 * a password, such as a person who joined through an invite mail), or a guest session (anonymous
 * sign-in). `problem` says why a mailed link the person followed did not sign them in.
 */
export function SignIn({ problem = null }: { problem?: string | null }) {
  const { supabase } = useBackend();
  const [mode, setMode] = useState<"sign-in" | "sign-up" | "link">("sign-in");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(problem);
  const [sentTo, setSentTo] = useState<string | null>(null);
  const ids = { email: useId(), password: useId(), name: useId() };

  const run = async (action: () => Promise<{ error: { message: string } | null }>) => {
    setBusy(true);
    setError(null);
    const { error } = await action();
    // On success onAuthStateChange swaps this page out.
    if (error) {
      setError(error.message);
      setBusy(false);
    }
  };

  const sendLink = async () => {
    setBusy(true);
    setError(null);
    setSentTo(null);
    const { error } = await supabase.auth.signInWithOtp({
      email,
      // Sign-up stays on its own tab; the link comes back to this page, without any hash route.
      options: {
        shouldCreateUser: false,
        emailRedirectTo: `${window.location.origin}${window.location.pathname}`,
      },
    });
    if (error && error.code !== NO_ACCOUNT) setError(error.message);
    else setSentTo(email);
    setBusy(false);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mode === "link") {
      void sendLink();
      return;
    }
    void run(() =>
      mode === "sign-in"
        ? supabase.auth.signInWithPassword({ email, password })
        : supabase.auth.signUp({
            email,
            password,
            options: { data: displayName.trim() ? { display_name: displayName.trim() } : {} },
          }),
    );
  };

  const guest = () =>
    void run(() =>
      supabase.auth.signInAnonymously(
        displayName.trim() ? { options: { data: { display_name: displayName.trim() } } } : undefined,
      ),
    );

  return (
    <main className="center-page">
      <div className="card sign-in">
        <h1>Roomkit</h1>
        <p className="muted">Private rooms with an AI participant, and coworking rooms with voice.</p>
        <div className="tabs" role="tablist" aria-label="Account">
          <button
            type="button"
            role="tab"
            aria-selected={mode === "sign-in"}
            onClick={() => setMode("sign-in")}
          >
            Sign in
          </button>
          <button
            type="button"
            role="tab"
            aria-selected={mode === "sign-up"}
            onClick={() => setMode("sign-up")}
          >
            Create account
          </button>
          <button type="button" role="tab" aria-selected={mode === "link"} onClick={() => setMode("link")}>
            Email a link
          </button>
        </div>
        <form onSubmit={submit} aria-label={FORM_NAMES[mode]}>
          {mode === "sign-up" && (
            <div className="field">
              <label htmlFor={ids.name}>Display name</label>
              <input
                id={ids.name}
                value={displayName}
                maxLength={50}
                autoComplete="nickname"
                onChange={(e) => setDisplayName(e.target.value)}
              />
            </div>
          )}
          <div className="field">
            <label htmlFor={ids.email}>Email</label>
            <input
              id={ids.email}
              type="email"
              required
              autoComplete="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </div>
          {mode !== "link" && (
            <div className="field">
              <label htmlFor={ids.password}>Password</label>
              <input
                id={ids.password}
                type="password"
                required
                minLength={6}
                autoComplete={mode === "sign-in" ? "current-password" : "new-password"}
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </div>
          )}
          {mode === "link" && sentTo && (
            <p className="ok" role="status">
              If an account exists for {sentTo}, a sign-in link is on its way: check your inbox.
            </p>
          )}
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="primary" disabled={busy}>
            {mode === "link" ? "Email me a sign-in link" : FORM_NAMES[mode]}
          </button>
        </form>
        <div className="divider">or</div>
        <button type="button" onClick={guest} disabled={busy}>
          Continue as guest
        </button>
        <p className="muted small">Guests can chat and cowork; they cannot be invited by email.</p>
      </div>
    </main>
  );
}
