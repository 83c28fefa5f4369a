import postgres from "postgres";
import { WebSocketServer } from "ws";
import type { Surface, SurfaceFactory } from "../surface.ts";
import { Hub, tenantTopic } from "./broadcast.ts";
import type { ChannelServer, RealtimeSettings } from "./channel.ts";
import { handleBroadcastApi } from "./http.ts";
import { type Replication, startReplication } from "./replication.ts";
import { acceptUpgrade, type Connection } from "./socket.ts";

/**
 * `/realtime/v1`: a Supabase Realtime stand-in for what realtime-js 2.119 does — the Phoenix
 * socket, private channels authorized by RLS on `realtime.messages`, broadcast (socket, REST and
 * from the database), presence, and token lifecycle. postgres_changes is not implemented (the
 * join is refused so realtime-js reports CHANNEL_ERROR).
 */

/** Channel join error delay (`CHANNEL_ERROR_BACKOFF_MS`, supabase/realtime config/runtime.exs). */
const DEFAULT_CHANNEL_ERROR_BACKOFF_MS = 5000;
/** Connect refusal delay (`CONNECT_ERROR_BACKOFF_MS`). */
const DEFAULT_CONNECT_ERROR_BACKOFF_MS = 2000;
/** Client presence limit (`CLIENT_PRESENCE_MAX_CALLS` / `CLIENT_PRESENCE_WINDOW_MS`). */
const DEFAULT_PRESENCE_RATE_LIMIT = { calls: 5, windowMs: 30_000 };
/**
 * Tenant `max_payload_size_in_kb` default (3000, realtime `api/tenant.ex`) plus the 500 bytes
 * of padding `Tenants.validate_payload_size` allows.
 */
const DEFAULT_MAX_PAYLOAD_BYTES = 3000 * 1024 + 500;
/** The server keeps today's partitions in place; we re-run the janitor hourly. */
const PARTITION_MAINTENANCE_MS = 60 * 60 * 1000;
/** How often a broken replication stream (database restarted) is checked for and reopened. */
const REPLICATION_WATCHDOG_MS = 2_000;

/** The realtime surface, with the local-only knob tests use to simulate a server restart. */
export interface RealtimeSurface extends Surface {
  /**
   * Drops every socket and the replication stream, then starts again: clients see the server
   * go away and come back (realtime-js reconnects and rejoins).
   */
  restart(): Promise<void>;
  /** Open sockets (for tests and the bench). */
  connectionCount(): number;
}

const byApiUrl = new Map<string, RealtimeSurface>();

/**
 * The realtime surface of the stack serving `apiUrl` in this process, if any. Lets tests reach
 * `restart()` without a handle on the surface object.
 *
 * @example
 * await realtimeSurfaceFor(stack.url)?.restart();
 */
export function realtimeSurfaceFor(apiUrl: string): RealtimeSurface | undefined {
  return byApiUrl.get(apiUrl);
}

export const createRealtimeSurface: SurfaceFactory = async (ctx) => {
  const log = (line: string) => ctx.log("realtime", line);
  const backoff = ctx.options.realtimeErrorBackoffMs;
  const settings: RealtimeSettings = {
    channelErrorBackoffMs: backoff ?? DEFAULT_CHANNEL_ERROR_BACKOFF_MS,
    presenceRateLimit: ctx.options.presenceRateLimit ?? DEFAULT_PRESENCE_RATE_LIMIT,
    maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
  };
  const connectBackoffMs = backoff ?? DEFAULT_CONNECT_ERROR_BACKOFF_MS;
  const sql = postgres(ctx.dbUrl, { max: 10, onnotice: () => {}, idle_timeout: 30 });
  const server: ChannelServer = { hub: new Hub(), sql, keys: ctx.keys, settings, log };
  const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxPayloadBytes * 2 });
  const connections = new Set<Connection>();
  let replication: Replication | undefined;
  let accepting = false;

  const maintain = () =>
    sql`select _roomkit.maintain_realtime_partitions()`.then(
      () => {},
      (error: Error) => log(`partition maintenance failed: ${error.message}`),
    );
  const start = async () => {
    server.hub = new Hub();
    replication = await startReplication(
      ctx.dbUrl,
      (m) => server.hub.publish(tenantTopic(m.topic, m.isPrivate), m.frame),
      log,
    );
    accepting = true;
  };
  const dropAll = async () => {
    accepting = false;
    for (const c of connections) c.close();
    connections.clear();
    await replication?.stop();
    replication = undefined;
  };

  await maintain();
  const maintenance = setInterval(maintain, PARTITION_MAINTENANCE_MS);
  maintenance.unref();
  await start();
  // A database that went away and came back: postgres.js retries the replication stream once;
  // if that fails too, a fresh stream is opened here until one holds.
  let repairing = false;
  const watchdog = setInterval(() => {
    if (!accepting || repairing || replication?.healthy()) return;
    repairing = true;
    void (async () => {
      try {
        await replication?.stop();
        replication = await startReplication(
          ctx.dbUrl,
          (m) => server.hub.publish(tenantTopic(m.topic, m.isPrivate), m.frame),
          log,
        );
        log("replication stream reconnected");
      } catch (error) {
        replication = undefined;
        log(`replication stream still down: ${(error as Error).message}`);
      } finally {
        repairing = false;
      }
    })();
  }, REPLICATION_WATCHDOG_MS);
  watchdog.unref();

  const surface: RealtimeSurface = {
    async handle(req, res, path) {
      if (await handleBroadcastApi(server, req, res, path)) return;
      const body = JSON.stringify({ message: "Not Found" });
      res.writeHead(404, { "content-type": "application/json; charset=utf-8" });
      res.end(body);
    },
    upgrade(req, socket, head, path) {
      if (!accepting) {
        socket.end("HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        return;
      }
      acceptUpgrade(wss, server, req, socket, head, path, connectBackoffMs, (c) => {
        connections.add(c);
        c.onGone = () => connections.delete(c);
      }).catch((error: Error) => {
        log(`upgrade failed: ${error.stack ?? error.message}`);
        socket.destroy();
      });
    },
    async restart() {
      await dropAll();
      await start();
    },
    connectionCount: () => connections.size,
    async close() {
      byApiUrl.delete(ctx.apiUrl);
      clearInterval(maintenance);
      clearInterval(watchdog);
      await dropAll();
      wss.close();
      await sql.end({ timeout: 1 });
    },
  };
  byApiUrl.set(ctx.apiUrl, surface);
  return surface;
};
