/**
 * Helpers the scale benches share: a throwaway database with Roomkit's migrations, the stack on a
 * free port, users with live Auth sessions and tokens, percentiles, raw Realtime sockets (Phoenix
 * v2 frames as realtime-js sends them), a bare `ws` relay as the fan-out baseline, process-tree
 * memory, and result files. Not a bench itself (the `_` prefix keeps bench/run.ts from running it).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import postgres from "postgres";
import { WebSocket, WebSocketServer } from "ws";
import { type StackOptions, startStack } from "../packages/stack/src/index.ts";
import { type Claims, signJwt } from "../packages/stack/src/jwt.ts";
import { generateKeys, type StackKeys } from "../packages/stack/src/keys.ts";
import { prepareDatabase } from "../packages/stack/src/migrate.ts";
import { freePort } from "../packages/stack/src/net.ts";
import { startThrowawayPostgres, withDatabase } from "../packages/stack/src/postgres.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round1 = (n: number) => Math.round(n * 10) / 10;
export const round2 = (n: number) => Math.round(n * 100) / 100;
/** x / y to two decimals. */
export const ratio = (x: number, y: number) => round2(x / y);

export interface Stats {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles, rounded to 0.01. */
export function stats(values: number[]): Stats {
  const s = [...values].sort((x, y) => x - y);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return {
    samples: s.length,
    p50: round2(at(0.5)),
    p95: round2(at(0.95)),
    p99: round2(at(0.99)),
    max: round2(at(1)),
  };
}

/** A throwaway embedded PostgreSQL with one database prepared by Roomkit's migrations (no seed). */
export interface BenchDatabase {
  dbUrl: string;
  /** Superuser connection to that database (the table owner). */
  sql: postgres.Sql;
  stop(): Promise<void>;
}

/** Starts a throwaway cluster, creates a database and applies the platform and the migrations. */
export async function startBenchDatabase(prefix: string, poolSize = 4): Promise<BenchDatabase> {
  const pg = await startThrowawayPostgres(prefix);
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  const dbName = `bench_${randomBytes(4).toString("hex")}`;
  try {
    await admin.unsafe(`create database ${dbName}`);
    const dbUrl = withDatabase(pg.url, dbName);
    await prepareDatabase(dbUrl, { projectDir: ROOT, seed: false });
    const sql = postgres(dbUrl, { max: poolSize, onnotice: () => {} });
    return {
      dbUrl,
      sql,
      async stop() {
        await sql.end();
        await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
        await admin.end();
        await pg.stop();
      },
    };
  } catch (error) {
    await admin.end();
    await pg.stop();
    throw error;
  }
}

/** The in-process stack on a free loopback port, quiet. */
export async function startBenchStack(
  dbUrl: string,
  options: Partial<StackOptions> = {},
): Promise<{ apiUrl: string; keys: StackKeys; close(): Promise<void> }> {
  const keys = await generateKeys();
  const stack = await startStack({
    dbUrl,
    keys,
    port: await freePort(),
    host: "127.0.0.1",
    functions: false,
    realtimeErrorBackoffMs: 0,
    log: () => {},
    ...options,
  });
  return { apiUrl: stack.apiUrl, keys, close: () => stack.close() };
}

/** A user with a live `auth.sessions` row (Roomkit's policies check the token's `session_id`). */
export interface BenchUser {
  index: number;
  id: string;
  sessionId: string;
}

/**
 * Inserts `count` users (profiles come from the `on_auth_user_created` trigger, as in production)
 * and one session each, in two set-based statements. Ids derive from `tag` and the index.
 */
export async function createUsers(
  sql: postgres.Sql,
  tag: string,
  count: number,
  from = 0,
): Promise<BenchUser[]> {
  const uid = `md5('${tag}-user-' || u)::uuid`;
  const sid = `md5('${tag}-session-' || u)::uuid`;
  const range = `generate_series(${from}, ${from + count - 1}) u`;
  await sql.unsafe(
    `insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                             raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
                             confirmation_token, recovery_token, email_change_token_new, email_change)
     select '00000000-0000-0000-0000-000000000000', ${uid}, 'authenticated', 'authenticated',
            '${tag}-' || u || '@example.test', '', now(), '{"provider": "email", "providers": ["email"]}',
            jsonb_build_object('display_name', 'User ' || u), now(), now(), '', '', '', ''
     from ${range}`,
  );
  await sql.unsafe(
    `insert into auth.sessions (id, user_id, created_at, updated_at, aal) select ${sid}, ${uid}, now(), now(), 'aal1' from ${range}`,
  );
  const rows = await sql.unsafe<{ u: number; id: string; sid: string }[]>(
    `select u, ${uid}::text as id, ${sid}::text as sid from ${range} order by u`,
  );
  return rows.map((r) => ({ index: r.u, id: r.id, sessionId: r.sid }));
}

/** An access token for `user` with the claims the stack's Auth issues (minted directly, 3 h). */
export function userToken(keys: StackKeys, apiUrl: string, user: BenchUser): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Claims = {
    iss: `${apiUrl}/auth/v1`,
    sub: user.id,
    aud: "authenticated",
    exp: now + 3 * 3600,
    iat: now,
    email: `user-${user.index}@example.test`,
    phone: "",
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: { display_name: `User ${user.index}` },
    role: "authenticated",
    aal: "aal1",
    amr: [{ method: "password", timestamp: now }],
    session_id: user.sessionId,
    is_anonymous: false,
  };
  return signJwt(claims, keys);
}

/**
 * `count` active private rooms (ai_mode `mention`, the default) or coworking rooms, owned by
 * `owner`, inserted as the table owner. Returns their ids in order.
 */
export async function createRooms(
  sql: postgres.Sql,
  owner: BenchUser,
  count: number,
  kind: "private" | "coworking" = "private",
  capacity?: (i: number) => number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const [row] =
      kind === "private"
        ? await sql<{ id: string }[]>`insert into roomkit.rooms (kind, name, ai_mode, created_by)
            values ('private', ${`Bench ${i}`}, 'mention', ${owner.id}) returning id`
        : await sql<{ id: string }[]>`insert into roomkit.rooms (kind, name, capacity, created_by)
            values ('coworking', ${`Cowork ${i}`}, ${capacity?.(i) ?? 10}, ${owner.id}) returning id`;
    ids.push(row!.id);
  }
  return ids;
}

/**
 * Adds memberships (room, user) in bulk with triggers off (no join broadcasts or system messages:
 * the bench arranges state, it does not measure these writes).
 */
export async function addMembers(
  sql: postgres.Sql,
  pairs: [roomId: string, userId: string, role?: string][],
) {
  const chunk = 5000;
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    for (let i = 0; i < pairs.length; i += chunk) {
      const part = pairs.slice(i, i + chunk);
      await tx`
        insert into roomkit.room_members (room_id, user_id, role)
        select r::uuid, u::uuid, coalesce(x, 'member')::roomkit.member_role
        from unnest(${part.map((p) => p[0])}::text[], ${part.map((p) => p[1])}::text[],
                    ${part.map((p) => p[2] ?? null)}::text[]) as t(r, u, x)`;
    }
  });
}

/** The Realtime WebSocket URL of a stack, as realtime-js builds it. */
export const realtimeUrl = (apiUrl: string, anonKey: string) =>
  `${apiUrl.replace("http", "ws")}/realtime/v1/websocket?apikey=${anonKey}&vsn=2.0.0`;

export async function openSocket(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return ws;
}

/** Sends `phx_join` for `realtime:<topic>` and resolves with the time to its ok reply (ms); rejects on an error reply. */
export function joinChannel(
  ws: WebSocket,
  topic: string,
  token: string,
  ref: string,
  options: { private?: boolean } = {},
): Promise<number> {
  const started = performance.now();
  return new Promise<number>((resolve, reject) => {
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const [, r, , event, payload] = JSON.parse(data.toString()) as [
        string,
        string,
        string,
        string,
        { status: string },
      ];
      if (r === ref && event === "phx_reply") {
        ws.off("message", onMessage);
        if (payload.status === "ok") resolve(performance.now() - started);
        else reject(new Error(`join ${topic}: ${JSON.stringify(payload)}`));
      }
    };
    ws.on("message", onMessage);
    ws.send(
      JSON.stringify([
        ref,
        ref,
        `realtime:${topic}`,
        "phx_join",
        {
          config: {
            broadcast: { self: false, ack: false },
            presence: { key: "", enabled: false },
            postgres_changes: [],
            private: options.private ?? true,
          },
          access_token: token,
        },
      ]),
    );
  });
}

/** Leaves `realtime:<topic>` and waits for the reply. */
export function leaveChannel(ws: WebSocket, topic: string, joinRef: string, ref: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const msg = JSON.parse(data.toString()) as unknown[];
      if (msg[1] === ref && msg[3] === "phx_reply") {
        ws.off("message", onMessage);
        resolve();
      }
    };
    ws.on("message", onMessage);
    ws.send(JSON.stringify([joinRef, ref, `realtime:${topic}`, "phx_leave", {}]));
  });
}

/** realtime-js's kind-3 "user broadcast push" frame (binary), for `realtime:<topic>`. */
export function broadcastFrame(
  joinRef: string,
  ref: string,
  topic: string,
  event: string,
  payload: unknown,
): Buffer {
  const parts = [joinRef, ref, `realtime:${topic}`, event].map((s) => Buffer.from(s));
  const header = Buffer.from([3, ...parts.map((p) => p.length), 0, 1]);
  return Buffer.concat([header, ...parts, Buffer.from(JSON.stringify(payload))]);
}

/**
 * The sequence number a frame carries as `"mark-<n>"` anywhere in it (a broadcast payload, a
 * message body inside a database broadcast), or undefined. One substring search, so the
 * receivers' cost is the same in every scenario and in the baselines.
 */
export function markOf(data: Buffer | string, mark: string): number | undefined {
  const text = typeof data === "string" ? data : data.toString("latin1");
  const at = text.indexOf(mark);
  if (at < 0) return undefined;
  return Number.parseInt(text.slice(at + mark.length), 10);
}

/** Latencies of deliveries: `sent(seq)` when sent; every receiver calls `received(seq)`. */
export class Recorder {
  readonly sentAt = new Map<number, number>();
  readonly latencies: number[] = [];
  deliveries = 0;
  constructor(readonly warmup = 0) {}
  sent(seq: number): void {
    this.sentAt.set(seq, performance.now());
  }
  received(seq: number): void {
    this.deliveries += 1;
    const t0 = this.sentAt.get(seq);
    if (t0 !== undefined && seq >= this.warmup) this.latencies.push(performance.now() - t0);
  }
}

/**
 * The baseline fan-out: a bare `ws` server that keeps sockets in an in-process map per group and
 * relays each text frame `"<group>|<payload>"` from a sender to the group's other sockets (the
 * design Roomkit replaces). Subscribers join by sending `"join|<group>"`.
 */
export async function startBareRelay(): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const wss = new WebSocketServer({ port, host: "127.0.0.1" });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const groups = new Map<string, Set<WebSocket>>();
  wss.on("connection", (ws) => {
    ws.on("message", (data: Buffer) => {
      const text = data.toString();
      const bar = text.indexOf("|");
      const head = text.slice(0, bar);
      if (head === "join") {
        const group = text.slice(bar + 1);
        const set = groups.get(group) ?? new Set<WebSocket>();
        groups.set(group, set);
        set.add(ws);
        ws.send("joined");
        return;
      }
      const frame = JSON.stringify([null, null, head, "broadcast", JSON.parse(text.slice(bar + 1))]);
      for (const peer of groups.get(head) ?? []) if (peer !== ws) peer.send(frame);
    });
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

/** Joins `group` on the bare relay. */
export function joinBare(ws: WebSocket, group: string): Promise<void> {
  return new Promise<void>((resolve) => {
    ws.once("message", () => resolve());
    ws.send(`join|${group}`);
  });
}

/**
 * Memory of `pid` and every process below it, in MB: the resident set summed (`rssMb`, what `ps`
 * adds up; PostgreSQL's shared buffers count once per backend that touched them) and the
 * proportional set (`pssMb`, shared pages split among their users: the memory the tree really
 * holds), in all and by command name.
 */
export async function treeRss(pid: number): Promise<{
  totalMb: number;
  pssMb: number;
  byCommand: Record<string, number>;
  pssByCommand: Record<string, number>;
  processes: Record<string, number>;
}> {
  const { stdout } = await promisify(execFile)("ps", ["-eo", "pid=,ppid=,rss=,comm="]);
  const rows = stdout
    .trim()
    .split("\n")
    .map((l) => {
      const [p, pp, r, ...comm] = l.trim().split(/\s+/);
      return { pid: Number(p), ppid: Number(pp), kb: Number(r), comm: comm.join(" ") };
    });
  const children = new Map<number, number[]>();
  for (const r of rows) children.set(r.ppid, [...(children.get(r.ppid) ?? []), r.pid]);
  const byPid = new Map(rows.map((r) => [r.pid, r]));
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) pids.push(...(children.get(pids[i]!) ?? []));
  const byCommand: Record<string, number> = {};
  const pssByCommand: Record<string, number> = {};
  const processes: Record<string, number> = {};
  let kb = 0;
  let pssKb = 0;
  for (const p of pids) {
    const r = byPid.get(p);
    if (!r) continue;
    kb += r.kb;
    processes[r.comm] = (processes[r.comm] ?? 0) + 1;
    byCommand[r.comm] = round1((byCommand[r.comm] ?? 0) + r.kb / 1024);
    const rollup = await readFile(`/proc/${p}/smaps_rollup`, "utf8").catch(() => "");
    const pss = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    pssKb += pss;
    pssByCommand[r.comm] = round1((pssByCommand[r.comm] ?? 0) + pss / 1024);
  }
  return { totalMb: round1(kb / 1024), pssMb: round1(pssKb / 1024), byCommand, pssByCommand, processes };
}

/** Resident memory (MB) of `pid` and every process below it. */
export async function treeRssMb(pid: number): Promise<number> {
  return (await treeRss(pid)).totalMb;
}

/** Writes `bench/results/<name>.json`. */
export async function writeResult(name: string, result: unknown): Promise<void> {
  const out = join(ROOT, "bench", "results", `${name}.json`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
}

/**
 * CPU seconds (user + system) used so far by `pid` and every live process below it, by command
 * name (`node`, `postgres`, `deno` …), from /proc. Diff two readings to see where a phase's CPU went.
 */
export async function cpuSecondsByCommand(pid: number): Promise<Record<string, number>> {
  const { stdout } = await promisify(execFile)("ps", ["-eo", "pid=,ppid="]);
  const children = new Map<number, number[]>();
  for (const line of stdout.trim().split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number) as [number, number];
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) pids.push(...(children.get(pids[i]!) ?? []));
  const out: Record<string, number> = {};
  for (const p of pids) {
    try {
      const stat = await readFile(`/proc/${p}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), in clock ticks (100 a second).
      const ticks = Number(fields[11]) + Number(fields[12]);
      out[name] = round2((out[name] ?? 0) + ticks / 100);
    } catch {}
  }
  return out;
}

/** `after − before` per command, two decimals. */
export function cpuDiff(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, round2(v - (before[k] ?? 0))] as const)
      .filter(([, v]) => v > 0),
  );
}

/** A `roomkit-stack start` child process on free ports, its state in `stateDir`. */
export interface StackCli {
  child: ChildProcess;
  apiPort: number;
  dbPort: number;
  /** What it wrote to stderr so far (for the error when it exits early). */
  stderr(): string;
}

/**
 * Starts the stack's CLI as `npm start` does, in its own process group (kill `-child.pid` to stop
 * it and everything it started), stdout ignored.
 *
 * @example
 * const cli = await spawnStackCli(stateDir);
 */
export async function spawnStackCli(stateDir: string, env: Record<string, string> = {}): Promise<StackCli> {
  const [apiPort, dbPort] = [await freePort(), await freePort()];
  const child = spawn(
    join(ROOT, "node_modules", ".bin", "tsx"),
    [
      join(ROOT, "packages", "stack", "src", "cli.ts"),
      "start",
      "--port",
      String(apiPort),
      "--db-port",
      String(dbPort),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ROOMKIT_STATE_DIR: stateDir, ...env },
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  return { child, apiPort, dbPort, stderr: () => stderr };
}
