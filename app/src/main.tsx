import { createClient } from "@supabase/supabase-js";
import { createRoot } from "react-dom/client";
import { createRoomkitClient } from "roomkit";
import { App } from "./App.tsx";
import { completeAuthRedirect, takeAuthRedirect } from "./auth/redirect.ts";
import { BackendContext } from "./backend.ts";
import { loadConfig } from "./config.ts";
import "./styles.css";

// A mailed link's tokens leave the address bar before anything else runs.
const redirect = takeAuthRedirect();
const root = createRoot(document.getElementById("root")!);

try {
  const config = await loadConfig();
  // One supabase-js client for the page (auth, REST, realtime socket); Roomkit works through it.
  // The app takes Auth's redirect itself (auth/redirect.ts), so supabase-js must not look for it.
  const supabase = createClient(config.supabaseUrl, config.supabaseKey, {
    auth: { detectSessionInUrl: false },
  });
  const roomkit = createRoomkitClient(
    supabase,
    config.heartbeatMs ? { session: { heartbeatIntervalMs: config.heartbeatMs } } : {},
  );
  const signInProblem = redirect ? await completeAuthRedirect(supabase, redirect) : null;
  root.render(
    <BackendContext.Provider value={{ supabase, roomkit, config }}>
      <App signInProblem={signInProblem} />
    </BackendContext.Provider>,
  );
} catch (error) {
  root.render(
    <main className="center-page">
      <div className="card" role="alert">
        <h1>Roomkit cannot start</h1>
        <p>{error instanceof Error ? error.message : String(error)}</p>
        <p>Set VITE_SUPABASE_URL and VITE_SUPABASE_PUBLISHABLE_KEY, or serve the app with `npm start`.</p>
      </div>
    </main>,
  );
}
