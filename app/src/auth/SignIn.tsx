import { type FormEvent, useId, useState } from "react";
import { useBackend } from "../backend.ts";

/**
 * Email and password (sign in or create an account), or a guest session (anonymous sign-in).
 * `problem` says why a mailed link the person followed did not sign them in.
 */
export function SignIn({ problem = null }: { problem?: string | null }) {
  const { supabase } = useBackend();
  const [mode, setMode] = useState<"sign-in" | "sign-up">("sign-in");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(problem);
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

  const submit = (event: FormEvent) => {
    event.preventDefault();
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
        </div>
        <form onSubmit={submit} aria-label={mode === "sign-in" ? "Sign in" : "Create account"}>
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
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="primary" disabled={busy}>
            {mode === "sign-in" ? "Sign in" : "Create account"}
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
