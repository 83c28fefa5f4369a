/** Where the app finds its Supabase project, and whether voice is set up there. */
export interface AppConfig {
  supabaseUrl: string;
  /** The publishable (or legacy anon) key: safe in a browser. */
  supabaseKey: string;
  /** True when the project's functions have LiveKit settings; without them coworking is chat only. */
  voice: boolean;
  /**
   * How often an open coworking room tells the server I am still here, in ms. Default: the
   * client's 15 000. A deployment that shortens `participant_timeout_seconds` shortens this too
   * (keep it under a third of the timeout).
   */
  heartbeatMs?: number;
}

/**
 * A deployment builds the settings in (`VITE_SUPABASE_URL`, `VITE_SUPABASE_PUBLISHABLE_KEY`,
 * `VITE_ROOMKIT_VOICE`). Without them the app reads `config.json` next to itself, which
 * `npm start` serves with the local stack's URL and key (they differ per machine and per test).
 */
export async function loadConfig(): Promise<AppConfig> {
  const env = import.meta.env ?? {};
  if (env.VITE_SUPABASE_URL && env.VITE_SUPABASE_PUBLISHABLE_KEY) {
    return {
      supabaseUrl: env.VITE_SUPABASE_URL,
      supabaseKey: env.VITE_SUPABASE_PUBLISHABLE_KEY,
      voice: env.VITE_ROOMKIT_VOICE === "true",
    };
  }
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const value = (await response.json()) as Partial<AppConfig>;
  if (typeof value.supabaseUrl !== "string" || typeof value.supabaseKey !== "string") {
    throw new Error("config.json must name supabaseUrl and supabaseKey");
  }
  return {
    supabaseUrl: value.supabaseUrl,
    supabaseKey: value.supabaseKey,
    voice: value.voice === true,
    ...(typeof value.heartbeatMs === "number" && value.heartbeatMs > 0
      ? { heartbeatMs: value.heartbeatMs }
      : {}),
  };
}
