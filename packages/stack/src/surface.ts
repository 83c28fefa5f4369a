import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ApiConfig, AuthConfig } from "./config.ts";
import type { Mailer } from "./inbox.ts";
import type { StackOptions } from "./index.ts";
import type { StackKeys } from "./keys.ts";
import type { Project } from "./project.ts";

/** What every surface of the local stack gets from the stack when it is created. */
export interface StackContext {
  /** URL of the Roomkit database (superuser; surfaces switch role per request). */
  dbUrl: string;
  /** Public URL of the gateway, e.g. `http://127.0.0.1:54321`. */
  apiUrl: string;
  keys: StackKeys;
  /** Algorithm of user access tokens Auth issues: HS256 (CLI default) or ES256 (hosted default). */
  userTokenAlg: "HS256" | "ES256";
  /** The project folder the stack serves (config, functions). */
  project: Project;
  /** The Data API settings (`[api]` of `supabase/config.toml`) the REST surface serves with. */
  api: ApiConfig;
  /** The Auth settings: `[auth]` of `supabase/config.toml` with `StackOptions` on top. */
  auth: AuthConfig;
  /** Where Auth's mails go: the local inbox. */
  mailer: Mailer;
  /** The local inbox's URL, when it is served. */
  inboxUrl?: string;
  /** Writes one line of this surface's log, prefixed by the stack. */
  log(source: string, line: string): void;
  /** Everything `startStack` was given (surface knobs such as `realtimeErrorBackoffMs`, `functionsEnv`). */
  options: Readonly<StackOptions>;
}

/**
 * One Supabase HTTP surface (`/auth/v1`, `/rest/v1`, `/realtime/v1`, `/functions/v1`).
 * The gateway has already answered CORS preflights, checked the `apikey` where Supabase's
 * gateway does, and set `x-request-id`; it passes the path with the surface prefix removed.
 */
export interface Surface {
  /** `path` is the request path after the prefix, with its query string (e.g. `/rooms?select=*`). */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
  /** WebSocket upgrade (realtime only); `path` as for `handle`. */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): void;
  close(): Promise<void>;
}

export type SurfaceFactory = (ctx: StackContext) => Promise<Surface>;
