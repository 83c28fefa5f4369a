import type { Session } from "@supabase/supabase-js";
import { useEffect, useState } from "react";
import { AppData, AppDataContext } from "./app-data.ts";
import { SignIn } from "./auth/SignIn.tsx";
import { useBackend } from "./backend.ts";
import { ConnectionBanner } from "./components/ConnectionBanner.tsx";
import { Header } from "./components/Header.tsx";
import { CoworkingRoomView } from "./coworking/CoworkingRoomView.tsx";
import { Lobby } from "./coworking/Lobby.tsx";
import { InvitesPage } from "./invites/InvitesPage.tsx";
import { RoomsPage } from "./rooms/RoomsPage.tsx";
import { useRoute } from "./router.ts";
import { SettingsPage } from "./settings/SettingsPage.tsx";

/**
 * Signed out: the sign-in page (saying why, when a mailed link did not sign the person in).
 * Signed in: the header, the banner and the page the hash names.
 */
export function App({ signInProblem = null }: { signInProblem?: string | null }) {
  const { supabase } = useBackend();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [problem, setProblem] = useState(signInProblem);

  useEffect(() => {
    void supabase.auth.getSession().then(({ data }) => setSession(data.session));
    const { data } = supabase.auth.onAuthStateChange((_event, next) => {
      if (next) setProblem(null);
      // Token refreshes keep the same user: keep the same AppData (and its subscriptions).
      setSession((current) => (current?.user.id === next?.user.id && current && next ? current : next));
    });
    return () => data.subscription.unsubscribe();
  }, [supabase]);

  if (session === undefined) return <p className="center-page">Loading…</p>;
  if (!session) return <SignIn problem={problem} />;
  return <SignedIn key={session.user.id} session={session} />;
}

function SignedIn({ session }: { session: Session }) {
  const { supabase, roomkit } = useBackend();
  const [app] = useState(
    () =>
      new AppData(
        {
          id: session.user.id,
          email: session.user.email ?? null,
          isAnonymous: session.user.is_anonymous === true,
        },
        supabase,
        roomkit,
      ),
  );
  useEffect(() => {
    app.start();
    return () => app.stop();
  }, [app]);
  const route = useRoute();

  return (
    <AppDataContext.Provider value={app}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header route={route} />
      <ConnectionBanner />
      <main id="main" tabIndex={-1}>
        {route.name === "rooms" && <RoomsPage roomId={route.roomId} />}
        {route.name === "invites" && <InvitesPage />}
        {route.name === "coworking" &&
          (route.roomId ? <CoworkingRoomView key={route.roomId} roomId={route.roomId} /> : <Lobby />)}
        {route.name === "settings" && <SettingsPage />}
      </main>
    </AppDataContext.Provider>
  );
}
