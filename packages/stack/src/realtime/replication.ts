import postgres from "postgres";
import { ENCODING_BINARY, ENCODING_JSON, OutboundBroadcast, TOPIC_PREFIX } from "./protocol.ts";

/**
 * Broadcast from the database. Like supabase/realtime `replication_connection.ex`, this reads
 * committed INSERTs on `realtime.messages` (all its daily partitions) from a logical
 * replication slot with `pgoutput`, over a publication on that table only.
 *
 * Why logical replication rather than LISTEN/NOTIFY or polling: pgoutput hands over exactly the
 * committed rows, in commit order, as soon as they commit; a rolled-back authorization probe or
 * a failed `realtime.send` never shows up, and nothing needs to change in the platform SQL.
 * The slot is temporary, created before the surface accepts sockets, so every row committed
 * while the server runs is delivered; rows committed while it is down are not (Supabase behaves
 * the same; the client library backfills from history after a reconnect).
 */

/** Publication name supabase/realtime uses (`replication_connection.ex`). */
export const PUBLICATION = "supabase_realtime_messages_publication";

/** One committed row of realtime.messages, as the fan-out needs it. */
export interface CommittedMessage {
  topic: string;
  isPrivate: boolean;
  frame: OutboundBroadcast;
}

export interface Replication {
  /** False while the replication connection is down (the database went away and is not back yet). */
  healthy(): boolean;
  stop(): Promise<void>;
}

/** How long stopping waits for the stream to end cleanly (the database may be gone). */
const STOP_TIMEOUT_MS = 1_000;

function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}

interface MessageRow {
  id: string;
  topic: string;
  event: string | null;
  extension: string;
  private: boolean | null;
  payload: string | null;
  binary_payload: string | null;
}

/** `\x…` hex text of a bytea in pgoutput's text format. */
function bytea(text: string): Buffer {
  return Buffer.from(text.startsWith("\\x") ? text.slice(2) : text, "hex");
}

/**
 * Ensures the publication exists, opens the replication stream and calls `deliver` for every
 * committed broadcast row, in commit order.
 *
 * @example
 * const repl = await startReplication(dbUrl, (m) => hub.publish(tenantTopic(m.topic, m.isPrivate), m.frame), log);
 */
export async function startReplication(
  dbUrl: string,
  deliver: (message: CommittedMessage) => void,
  log: (line: string) => void,
): Promise<Replication> {
  const admin = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`
      do $$
      begin
        if not exists (select from pg_publication where pubname = '${PUBLICATION}') then
          create publication ${PUBLICATION} for table realtime.messages;
        end if;
      end
      $$`);
  } finally {
    await admin.end();
  }
  const sql = postgres(dbUrl, {
    publications: PUBLICATION,
    onnotice: () => {},
    // Keep json payloads as text: they go onto the wire untouched, never parsed here.
    types: { rawjson: { to: 3802, from: [114, 3802], serialize: (x: string) => x, parse: (x: string) => x } },
  });
  // At runtime the handle also carries the replication connection (`sql`), which is what must
  // be ended to drop the temporary slot; the published types omit it.
  const handle = (await sql.subscribe(
    "insert",
    (row, info) => {
      const { schema, table } = info.relation;
      if (schema !== "realtime" || !table.startsWith("messages")) return;
      const r = row as unknown as MessageRow;
      if (r.extension !== "broadcast" || !r.event) return;
      const payload = r.binary_payload !== null ? bytea(r.binary_payload) : Buffer.from(r.payload ?? "{}");
      const encoding = r.binary_payload !== null ? ENCODING_BINARY : ENCODING_JSON;
      const frame = new OutboundBroadcast(
        `${TOPIC_PREFIX}${r.topic}`,
        r.event,
        payload,
        encoding,
        `{"id":"${r.id}"}`,
      );
      deliver({ topic: r.topic, isPrivate: r.private === true, frame });
    },
    () => {},
    ((error: Error) => log(`replication stream error: ${error.message}`)) as () => void,
  )) as unknown as { unsubscribe(): void; sql: postgres.Sql; state: { pid?: number } };
  const { unsubscribe, sql: stream, state } = handle;
  return {
    // postgres.js clears the backend pid when the stream's connection closes and sets it again
    // once it has reconnected.
    healthy: () => state.pid !== undefined,
    async stop() {
      unsubscribe();
      // Ending the stream waits for its close event, which never comes when the server is gone.
      await within(stream.end({ timeout: 1 }), STOP_TIMEOUT_MS);
      await within(sql.end({ timeout: 0 }), STOP_TIMEOUT_MS);
    },
  };
}
