import type { StackKeys } from "./keys.ts";

/** Options of one running local stack. */
export interface StackOptions {
  /** Database the stack serves (already prepared: platform, migrations, seed). */
  dbUrl: string;
  /** Gateway port (API URL). Default 54321; 0 picks a free one. */
  port?: number;
  host?: string;
  keys: StackKeys;
  /** Algorithm of user access tokens. Default HS256, as `supabase start`. */
  userTokenAlg?: "HS256" | "ES256";
  /** Allow `signInAnonymously()`. Default true. */
  anonymousSignIns?: boolean;
  /** Realtime: delay before the client may retry a failed join (ms). Default as Supabase; 0 in tests. */
  realtimeErrorBackoffMs?: number;
  /** Realtime: presence calls allowed per client per window. Default 5 per 30 s. */
  presenceRateLimit?: { calls: number; windowMs: number };
  /** Start the Deno functions worker. Default true. */
  functions?: boolean;
  /** Extra environment for functions (secrets), on top of the file `supabase/functions/.env`. */
  functionsEnv?: Record<string, string>;
  /** Log sink; default writes prefixed lines to stdout. */
  log?: (source: string, line: string) => void;
}

export interface RunningStack {
  apiUrl: string;
  dbUrl: string;
  keys: StackKeys;
  close(): Promise<void>;
}

/** PLACEHOLDER signature: the gateway issue fills this in. */
export async function startStack(_options: StackOptions): Promise<RunningStack> {
  throw new Error("startStack: not implemented yet");
}
