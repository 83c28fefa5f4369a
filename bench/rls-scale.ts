/**
 * Row-level security at scale, through the local stack's REST API with supabase-js.
 * Data set (built here with set-based SQL): 2,000 users, 1,000 private rooms of 40 members (each
 * user in 20 rooms), 1,000,000 messages (1,000 per room), 100,000 reactions, 5,000 invites.
 *   1. history_page_member_over_service: a member's history page (newest 50 of one of their
 *      rooms, then the next 50 by keyset) as the member, over the same request with the service
 *      role key (RLS bypassed). Target: member p50 / service p50 ≤ 1.2 on both pages.
 *   2. member_unfiltered_select_ms: the slowest unfiltered select a member can send on each
 *      Roomkit table (`limit 50`, and a `count=exact` HEAD). Target: worst p50 ≤ 300 ms.
 * Writes bench/results/rls-scale.json and merges both figures into bench/results/summary.json.
 *
 * Run: `npx tsx bench/rls-scale.ts` (or `npm run bench -- rls-scale`). A throwaway embedded
 * PostgreSQL 17 is started and removed again.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { WebSocket } from "ws";
import { ROOMKIT_SCHEMA } from "../functions/_shared/contract.ts";
import { startStack } from "../packages/stack/src/index.ts";
import { type Claims, signJwt } from "../packages/stack/src/jwt.ts";
import { generateKeys, type StackKeys } from "../packages/stack/src/keys.ts";
import { prepareDatabase } from "../packages/stack/src/migrate.ts";
import { freePort } from "../packages/stack/src/net.ts";
import { startThrowawayPostgres, withDatabase } from "../packages/stack/src/postgres.ts";
import { mergeSummary, type SummaryEntry } from "./_summary.ts";
import { ROOT, ratio } from "./_support.ts";

/** Where the Roomkit tables live, for SQL and for supabase-js (`schema(SCHEMA)`). */
const SCHEMA = ROOMKIT_SCHEMA;

const USERS = 2000;
const ROOMS = 1000;
const MEMBERS_PER_ROOM = 40;
const ROOMS_PER_USER = (ROOMS * MEMBERS_PER_ROOM) / USERS;
const MESSAGES_PER_ROOM = 1000;
/** One reaction on every 10th message: 100,000. */
const REACTION_EVERY = 10;
const INVITES_PER_ROOM = 5;
/** Messages spread over this many days, rooms interleaved. */
const HISTORY_DAYS = 90;

/**
 * Member j (0 ≤ j < 40) of room r is user `(40·(r mod 50) + 53·j + ⌊r/50⌋) mod 2000`: distinct
 * within a room (53 is invertible mod 2000), every user in exactly 20 rooms (for each shift
 * ⌊r/50⌋ one j solves 53·j ≡ u − shift (mod 40), then one r mod 50), and no two rooms share a
 * member list. j ≥ 40 gives users outside the room (invitees).
 */
const ROOM_GROUPS = USERS / MEMBERS_PER_ROOM;
const MEMBER_STRIDE = 53;

const WARMUP = 3;
const RUNS = 40;
/** History pages are cheap and their target is a ratio of two small times: more runs steady it. */
const PAGE_RUNS = 100;
/** A request slower than this on its first (warm-up) run is measured SLOW_RUNS times only. */
const SLOW_MS = 1000;
const SLOW_RUNS = 3;
/** History pages rotate over this many (member, room) pairs. */
const PAIRS = 10;
const PAGE_SIZE = 50;
/** Client-side limit per request: far above the slow requests of today's policies. */
const REQUEST_TIMEOUT_MS = 180_000;
/**
 * Supabase sets `statement_timeout = 8s` on `authenticated` (sql/platform/00_roles.sql): a slower
 * member request would fail with 57014 and report nothing. This throwaway cluster lifts it so
 * the bench measures the time instead; results flag every figure above the Supabase default.
 */
const LIFTED_STATEMENT_TIMEOUT = "300s";
const SUPABASE_AUTHENTICATED_TIMEOUT_MS = 8000;

const RATIO_TARGET = 1.2;
const UNFILTERED_TARGET_MS = 300;

const S = `"${SCHEMA}"`;

type Sql = postgres.Sql;

interface Stats {
  runs: number;
  p50: number;
  p95: number;
  min: number;
  max: number;
}

function stats(values: number[]): Stats {
  const s = [...values].sort((x, y) => x - y);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  const round = (n: number) => Math.round(n * 10) / 10;
  return { runs: s.length, p50: round(at(0.5)), p95: round(at(0.95)), min: round(at(0)), max: round(at(1)) };
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

/** SQL for the uuid of user `u`, room `r`, message `i` of room `r` (deterministic, so no lookups). */
const userId = (u: string) => `md5('rk-user-' || (${u}))::uuid`;
const sessionId = (u: string) => `md5('rk-session-' || (${u}))::uuid`;
const roomId = (r: string) => `md5('rk-room-' || (${r}))::uuid`;
const messageId = (r: string, i: string) => `md5('rk-msg-' || (${r}) || '-' || (${i}))::uuid`;
const memberIndex = (r: string, j: string) =>
  `((${MEMBERS_PER_ROOM} * ((${r}) % ${ROOM_GROUPS}) + ${MEMBER_STRIDE} * (${j}) + (${r}) / ${ROOM_GROUPS}) % ${USERS})`;
const memberId = (r: string, j: string) => userId(memberIndex(r, j));
/** When message i of room r was sent: evenly over HISTORY_DAYS up to now, rooms a few seconds apart. */
const HISTORY_START = new Date(Date.now() - HISTORY_DAYS * 86_400_000).toISOString();
const sentAt = (r: string, i: string) =>
  `(timestamptz '${HISTORY_START}' + (${i}) * interval '${(HISTORY_DAYS * 86_400) / MESSAGES_PER_ROOM} seconds' ` +
  `+ ((${r}) % 3600) * interval '1 second')`;

/** The type of a column, schema-qualified (`"public"."member_role"`), for casts that move with SCHEMA. */
async function columnType(sql: Sql, table: string, column: string): Promise<string> {
  const [row] = await sql<{ type: string }[]>`
    select quote_ident(n.nspname) || '.' || quote_ident(t.typname) as type
    from pg_attribute a join pg_type t on t.oid = a.atttypid join pg_namespace n on n.oid = t.typnamespace
    where a.attrelid = ${`${S}.${table}`}::regclass and a.attname = ${column}`;
  if (!row) throw new Error(`no column ${SCHEMA}.${table}.${column}`);
  return row.type;
}

interface Build {
  seconds: number;
  steps: Record<string, number>;
  expected: Record<string, number>;
  actual: Record<string, number>;
  reached: boolean;
}

/** Loads the data set as the table owner; triggers are skipped except the one making profiles. */
async function build(sql: Sql): Promise<Build> {
  const steps: Record<string, number> = {};
  const started = performance.now();
  const step = async (name: string, text: string) => {
    const t0 = performance.now();
    await sql.unsafe(text);
    steps[name] = seconds(performance.now() - t0);
  };
  const roleType = await columnType(sql, "room_members", "role");
  const inviteStatusType = await columnType(sql, "room_invites", "status");
  await sql.unsafe("set maintenance_work_mem = '256MB'");

  // auth.users with triggers on: on_auth_user_created makes the profiles, as in production.
  await step(
    "users",
    `insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                             raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
                             confirmation_token, recovery_token, email_change_token_new, email_change)
     select '00000000-0000-0000-0000-000000000000', ${userId("u")}, 'authenticated', 'authenticated',
            'bench-' || u || '@example.test', '', now(), '{"provider": "email", "providers": ["email"]}',
            jsonb_build_object('display_name', 'Bench user ' || u), now(), now(), '', '', '', ''
     from generate_series(0, ${USERS - 1}) u`,
  );
  // Every user is signed in once: Roomkit's policies check the token's session_id against auth.sessions.
  await step(
    "sessions",
    `insert into auth.sessions (id, user_id, created_at, updated_at, aal)
     select ${sessionId("u")}, ${userId("u")}, now(), now(), 'aal1' from generate_series(0, ${USERS - 1}) u`,
  );
  // Bulk load: no FK checks, broadcasts or AI queueing (all triggers); the data is consistent by construction.
  await sql.unsafe("set session_replication_role = replica");
  await step(
    "rooms",
    `insert into ${S}.rooms (id, kind, name, status, ai_mode, created_by, created_at, updated_at)
     select ${roomId("r")}, 'private', 'Bench room ' || r, 'active', 'off', ${memberId("r", "0")},
            ${sentAt("r", "0")} - interval '1 day', ${sentAt("r", "0")} - interval '1 day'
     from generate_series(0, ${ROOMS - 1}) r`,
  );
  await step(
    "room_members",
    `insert into ${S}.room_members (room_id, user_id, role, joined_at, last_read_at)
     select ${roomId("r")}, ${memberId("r", "j")},
            (case j when 0 then 'owner' when 1 then 'admin' else 'member' end)::${roleType},
            ${sentAt("r", "0")} - interval '1 day', now()
     from generate_series(0, ${ROOMS - 1}) r, generate_series(0, ${MEMBERS_PER_ROOM - 1}) j`,
  );
  // In send order (rooms interleaved, as a live chat writes them), so a room's history is spread over
  // the heap rather than packed; 1% soft-deleted (body null, as the check requires).
  await step(
    "room_messages",
    `insert into ${S}.room_messages (id, room_id, sender_id, kind, body, created_at, deleted_at)
     select ${messageId("r", "i")}, ${roomId("r")}, ${memberId("r", `(i * 7 + r) % ${MEMBERS_PER_ROOM}`)}, 'text',
            case when i % 100 = 99 then null else 'Message ' || i || ' in room ' || r || repeat(' lorem', (i + r) % 12) end,
            ${sentAt("r", "i")},
            case when i % 100 = 99 then ${sentAt("r", "i")} + interval '1 minute' end
     from generate_series(0, ${MESSAGES_PER_ROOM - 1}) i, generate_series(0, ${ROOMS - 1}) r`,
  );
  await step(
    "message_reactions",
    `insert into ${S}.message_reactions (message_id, user_id, emoji, room_id, created_at)
     select ${messageId("r", "i")}, ${memberId("r", `(i / ${REACTION_EVERY} + r + 1) % ${MEMBERS_PER_ROOM}`)},
            (array['👍', '❤️', '😂', '🎉', '👀'])[1 + (i / ${REACTION_EVERY}) % 5], ${roomId("r")},
            ${sentAt("r", "i")} + interval '5 minutes'
     from generate_series(${REACTION_EVERY / 2}, ${MESSAGES_PER_ROOM - 1}, ${REACTION_EVERY}) i, generate_series(0, ${ROOMS - 1}) r`,
  );
  // Invitees are users outside the room (j ≥ 40); two of five still pending.
  await step(
    "room_invites",
    `insert into ${S}.room_invites (room_id, inviter_id, invitee_id, status, created_at, responded_at, expires_at)
     select ${roomId("r")}, ${memberId("r", "0")}, ${memberId("r", `${MEMBERS_PER_ROOM} + k`)},
            (case k when 0 then 'pending' when 1 then 'pending' when 2 then 'declined' when 3 then 'revoked'
                    else 'expired' end)::${inviteStatusType},
            now() - (k + 1) * interval '2 days',
            case when k in (2, 3) then now() - k * interval '1 day' end,
            case when k = 4 then now() - interval '1 day' else now() - (k + 1) * interval '2 days' + interval '7 days' end
     from generate_series(0, ${ROOMS - 1}) r, generate_series(0, ${INVITES_PER_ROOM - 1}) k`,
  );
  await sql.unsafe("set session_replication_role = origin");
  const tables = ["profiles", "rooms", "room_members", "room_messages", "message_reactions", "room_invites"];
  await step("vacuum_analyze", `vacuum (analyze) ${tables.map((t) => `${S}.${t}`).join(", ")}`);

  const expected: Record<string, number> = {
    profiles: USERS,
    rooms: ROOMS,
    room_members: ROOMS * MEMBERS_PER_ROOM,
    room_messages: ROOMS * MESSAGES_PER_ROOM,
    message_reactions: (ROOMS * MESSAGES_PER_ROOM) / REACTION_EVERY,
    room_invites: ROOMS * INVITES_PER_ROOM,
    users_with_wrong_room_count: 0,
  };
  const actual: Record<string, number> = {};
  for (const t of tables) {
    const [row] = await sql.unsafe<{ n: string }[]>(
      // The AI participant's profile comes with the migrations.
      `select count(*) as n from ${S}.${t}${t === "profiles" ? " where not is_ai" : ""}`,
    );
    actual[t] = Number(row?.n);
  }
  const [wrong] = await sql.unsafe<{ n: string }[]>(
    `select count(*) as n from (select user_id from ${S}.room_members group by user_id
                                having count(*) <> ${ROOMS_PER_USER}) x`,
  );
  actual.users_with_wrong_room_count = Number(wrong?.n);
  const reached = Object.entries(expected).every(([k, v]) => actual[k] === v);
  return { seconds: seconds(performance.now() - started), steps, expected, actual, reached };
}

/** A member: user index, id, and the rooms they are in. */
interface Member {
  index: number;
  id: string;
  /** Their Auth session (auth.sessions row), as in the token's session_id claim. */
  sessionId: string;
  rooms: string[];
}

async function pickMembers(sql: Sql, count: number): Promise<Member[]> {
  const picked = Array.from({ length: count }, (_, k) => Math.floor((k * USERS) / count) + 7);
  const out: Member[] = [];
  for (const index of picked) {
    const rows = await sql.unsafe<{ user_id: string; session_id: string; room_id: string }[]>(
      `select user_id::text, ${sessionId(String(index))}::text as session_id, room_id::text from ${S}.room_members
       where user_id = ${userId(String(index))} order by room_id`,
    );
    out.push({
      index,
      id: rows[0]!.user_id,
      sessionId: rows[0]!.session_id,
      rooms: rows.map((r) => r.room_id),
    });
  }
  return out;
}

/** The claims of the member's access token as the stack's Auth issues them. */
function memberClaims(apiUrl: string, m: Member): Claims {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: `${apiUrl}/auth/v1`,
    sub: m.id,
    aud: "authenticated",
    exp: now + 3 * 3600,
    iat: now,
    email: `bench-${m.index}@example.test`,
    phone: "",
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: { display_name: `Bench user ${m.index}` },
    role: "authenticated",
    aal: "aal1",
    amr: [{ method: "password", timestamp: now }],
    session_id: m.sessionId,
    is_anonymous: false,
  };
}

/** An access token with those claims, signed with the stack's key: what a sign-in returns, minted directly. */
const accessToken = (keys: StackKeys, apiUrl: string, m: Member) => signJwt(memberClaims(apiUrl, m), keys);

const timedFetch: typeof fetch = (input, init) =>
  fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) });

/** A supabase-js client with `key` (anon or service role) and, for a member, their access token. */
function client(apiUrl: string, key: string, token?: string): SupabaseClient {
  return createClient(apiUrl, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: timedFetch },
    // Node 20 has no global WebSocket; realtime-js refuses to construct without a transport.
    realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
    ...(token ? { accessToken: async () => token } : {}),
  });
}

/** A PostgREST response as supabase-js returns it. */
interface Response {
  data: unknown;
  error: { message: string; code?: string } | null;
  count?: number | null;
}

/** Runs `request` and returns its wall time; a failed request fails the bench. */
async function timed(label: string, request: () => PromiseLike<Response>): Promise<[number, Response]> {
  const t0 = performance.now();
  const res = await request();
  const ms = performance.now() - t0;
  if (res.error) throw new Error(`${label}: ${res.error.code ?? ""} ${res.error.message}`);
  return [ms, res];
}

interface Measured {
  stats: Stats;
  samples: number[];
  last: Response;
}

/**
 * The member's request and the service role's, alternated (so load from elsewhere on the
 * machine falls on both alike): WARMUP untimed rounds, then `runs` timed ones. A side slower than
 * SLOW_MS on its first request runs once as warm-up and SLOW_RUNS timed times only (today's
 * policies make some requests take many seconds).
 */
async function measurePair(
  label: string,
  member: (run: number) => PromiseLike<Response>,
  service: (run: number) => PromiseLike<Response>,
  runs = RUNS,
): Promise<{ member: Measured; service: Measured }> {
  const sides = [
    { name: `member ${label}`, request: member },
    { name: `service ${label}`, request: service },
  ].map((side) => ({
    ...side,
    runs,
    samples: [] as number[],
    last: undefined as Response | undefined,
  }));
  for (const side of sides) {
    const [ms, res] = await timed(side.name, () => side.request(0));
    side.last = res;
    if (ms > SLOW_MS) side.runs = SLOW_RUNS;
  }
  for (let i = 1; i < WARMUP; i++) {
    for (const side of sides)
      if (side.runs === runs) [, side.last] = await timed(side.name, () => side.request(i));
  }
  for (let i = 0; i < runs; i++) {
    for (const side of sides) {
      if (i >= side.runs) continue;
      const [ms, res] = await timed(side.name, () => side.request(i));
      side.samples.push(ms);
      side.last = res;
    }
  }
  const [m, sv] = sides.map((side) => ({
    stats: stats(side.samples),
    samples: side.samples.map((x) => Math.round(x * 10) / 10),
    last: side.last!,
  }));
  return { member: m!, service: sv! };
}

interface Row {
  id: string;
  created_at: string;
}

async function historyPages(apiUrl: string, keys: StackKeys, members: Member[]) {
  const service = client(apiUrl, keys.serviceRoleKey);
  const pairs = await Promise.all(
    Array.from({ length: PAIRS }, async (_, k) => {
      const m = members[k % members.length]!;
      const room = m.rooms[(k * 7) % m.rooms.length]!;
      const first = await service
        .schema(SCHEMA)
        .from("room_messages")
        .select("id, created_at")
        .eq("room_id", room)
        .order("created_at", { ascending: false })
        .order("id", { ascending: false })
        .limit(PAGE_SIZE);
      const last = (first.data as Row[] | null)?.at(-1);
      if (!last) throw new Error(`room ${room} has no history`);
      return {
        member: client(apiUrl, keys.anonKey, await accessToken(keys, apiUrl, m)),
        room,
        cursor: last,
      };
    }),
  );
  const page1 = (c: SupabaseClient, run: number) => {
    const p = pairs[run % pairs.length]!;
    return c
      .schema(SCHEMA)
      .from("room_messages")
      .select("*")
      .eq("room_id", p.room)
      .order("created_at", { ascending: false })
      .order("id", { ascending: false })
      .limit(PAGE_SIZE);
  };
  const page2 = (c: SupabaseClient, run: number) => {
    const p = pairs[run % pairs.length]!;
    const at = `"${p.cursor.created_at}"`;
    return c
      .schema(SCHEMA)
      .from("room_messages")
      .select("*")
      .eq("room_id", p.room)
      .or(`created_at.lt.${at},and(created_at.eq.${at},id.lt.${p.cursor.id})`)
      .order("created_at", { ascending: false })
      .order("id", { ascending: false })
      .limit(PAGE_SIZE);
  };
  const pick = (run: number) => pairs[run % pairs.length]!.member;
  const result: Record<string, unknown> = {};
  for (const [name, page] of [
    ["page1", page1],
    ["page2", page2],
  ] as const) {
    const { member: asMember, service: asService } = await measurePair(
      name,
      (run) => page(pick(run), run),
      (run) => page(service, run),
      PAGE_RUNS,
    );
    const serviceRows = asService.last.data as Row[];
    const memberRows = asMember.last.data as Row[];
    // The member must see exactly what the service role sees: a fast empty page proves nothing.
    if (
      memberRows.length !== PAGE_SIZE ||
      memberRows.map((r) => r.id).join() !== serviceRows.map((r) => r.id).join()
    ) {
      throw new Error(
        `${name}: the member saw ${memberRows.length} rows, not the service role's ${serviceRows.length}`,
      );
    }
    result[name] = {
      member: asMember.stats,
      service: asService.stats,
      member_over_service_p50: ratio(asMember.stats.p50, asService.stats.p50),
      samples: { member: asMember.samples, service: asService.samples },
    };
  }
  return result as Record<
    "page1" | "page2",
    { member: Stats; service: Stats; member_over_service_p50: number }
  >;
}

/** What a member can send without a filter, per table. */
const UNFILTERED: { table: string; order?: string }[] = [
  { table: "room_messages", order: "created_at" },
  { table: "message_reactions" },
  { table: "room_members" },
  { table: "room_invites" },
  { table: "rooms" },
  { table: "profiles" },
];

interface UnfilteredFigure {
  table: string;
  request: "select limit 50" | "head count=exact";
  member: Stats;
  service: Stats;
  memberRows: number;
  serviceRows: number;
  over_supabase_8s_timeout: boolean;
}

async function unfilteredSelects(apiUrl: string, keys: StackKeys, members: Member[]) {
  const service = client(apiUrl, keys.serviceRoleKey);
  const clients = await Promise.all(
    members.slice(0, 5).map(async (m) => client(apiUrl, keys.anonKey, await accessToken(keys, apiUrl, m))),
  );
  const out: UnfilteredFigure[] = [];
  for (const { table, order } of UNFILTERED) {
    const select = (c: SupabaseClient) => {
      const q = c.schema(SCHEMA).from(table).select("*");
      return (order ? q.order(order, { ascending: false }) : q).limit(PAGE_SIZE);
    };
    const count = (c: SupabaseClient) =>
      c.schema(SCHEMA).from(table).select("*", { count: "exact", head: true });
    for (const [request, send] of [
      ["select limit 50", select],
      ["head count=exact", count],
    ] as const) {
      const label = `${table} ${request}`;
      const { member: asMember, service: asService } = await measurePair(
        label,
        (run) => send(clients[run % clients.length]!),
        () => send(service),
      );
      const rows = (r: Response) =>
        request === "select limit 50" ? ((r.data as unknown[] | null)?.length ?? 0) : (r.count ?? 0);
      out.push({
        table,
        request,
        member: asMember.stats,
        service: asService.stats,
        memberRows: rows(asMember.last),
        serviceRows: rows(asService.last),
        over_supabase_8s_timeout: asMember.stats.max > SUPABASE_AUTHENTICATED_TIMEOUT_MS,
      });
      console.log(`  ${label}: member p50 ${asMember.stats.p50} ms, service p50 ${asService.stats.p50} ms`);
    }
  }
  return out;
}

/**
 * EXPLAIN ANALYZE of a request's core query as REST runs it: the role and `request.jwt.claims`
 * (the member's full claims; their size matters, `auth.uid()` parses them). REST wraps the query
 * in a json_agg select; the plan of the inner query is the same.
 */
async function explainAs(sql: Sql, role: "authenticated" | "service_role", claims: Claims, query: string) {
  return sql.begin(async (tx) => {
    await tx.unsafe(`set local role ${role}`);
    await tx.unsafe(`set local statement_timeout = '${LIFTED_STATEMENT_TIMEOUT}'`);
    await tx`select set_config('request.jwt.claims', ${JSON.stringify({ ...claims, role })}, true)`;
    const rows = await tx.unsafe<{ "QUERY PLAN": string }[]>(`explain (analyze, buffers) ${query}`);
    return rows.map((r) => r["QUERY PLAN"]);
  });
}

/** "Execution Time: 0.941 ms" of an EXPLAIN ANALYZE. */
function executionMs(plan: string[]): number {
  const line = plan.find((l) => l.startsWith("Execution Time:"));
  return Number(/([\d.]+) ms/.exec(line ?? "")?.[1] ?? Number.NaN);
}

async function main(): Promise<void> {
  const benchStarted = performance.now();
  const pg = await startThrowawayPostgres("roomkit-bench-rls-");
  const dbName = `bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  let sql: Sql | undefined;
  try {
    await admin.unsafe(`create database ${dbName}`);
    const dbUrl = withDatabase(pg.url, dbName);
    const migrateStarted = performance.now();
    await prepareDatabase(dbUrl, {
      projectDir: ROOT,
      seed: false,
    });
    const migrateSeconds = seconds(performance.now() - migrateStarted);
    // Cluster-wide, but the cluster is this bench's own; set before the REST surface reads role settings.
    await admin.unsafe(`alter role authenticated set statement_timeout = '${LIFTED_STATEMENT_TIMEOUT}'`);

    sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
    console.log(`building the data set in ${SCHEMA} (migrations took ${migrateSeconds} s)…`);
    const built = await build(sql);
    console.log(`built in ${built.seconds} s`, built.steps);
    if (!built.reached) console.error("the data set did not reach its sizes:", built.actual);

    const keys = await generateKeys();
    stack = await startStack({
      dbUrl,
      keys,
      port: await freePort(),
      host: "127.0.0.1",
      functions: false,
      log: () => {},
    });
    const members = await pickMembers(sql, PAIRS);

    console.log("history pages…");
    const pages = await historyPages(stack.apiUrl, keys, members);
    console.log("unfiltered selects…");
    const unfiltered = await unfilteredSelects(stack.apiUrl, keys, members);

    console.log("explain analyze…");
    const m = members[0]!;
    const page1 = `select * from ${S}.room_messages where room_id = '${m.rooms[0]}'
                   order by created_at desc, id desc limit ${PAGE_SIZE}`;
    const claims = memberClaims(stack.apiUrl, m);
    const explain = {
      history_page1_member: await explainAs(sql, "authenticated", claims, page1),
      history_page1_service: await explainAs(sql, "service_role", claims, page1),
      room_messages_unfiltered_member: await explainAs(
        sql,
        "authenticated",
        claims,
        `select * from ${S}.room_messages order by created_at desc limit ${PAGE_SIZE}`,
      ),
    };

    const worstRatio = Math.max(pages.page1.member_over_service_p50, pages.page2.member_over_service_p50);
    const worst = unfiltered.reduce((a, b) => (b.member.p50 > a.member.p50 ? b : a));
    const entries: SummaryEntry[] = [
      {
        id: "history_page_member_over_service",
        value: worstRatio,
        unit: "x",
        baseline: 1,
        target: RATIO_TARGET,
        met: worstRatio <= RATIO_TARGET,
      },
      {
        id: "member_unfiltered_select_ms",
        value: worst.member.p50,
        unit: "ms",
        baseline: worst.service.p50,
        target: UNFILTERED_TARGET_MS,
        met: worst.member.p50 <= UNFILTERED_TARGET_MS,
      },
    ];
    const result = {
      benchmark: "rls-scale",
      date: new Date().toISOString(),
      node: process.version,
      schema: SCHEMA,
      through:
        "local stack REST (/rest/v1) with supabase-js; member = minted access token, baseline = service role key",
      statement_timeout:
        `authenticated's statement_timeout lifted from 8s (Supabase default) to ${LIFTED_STATEMENT_TIMEOUT} ` +
        "so slow requests report their time; over_supabase_8s_timeout marks the ones that would fail with 57014",
      runs: {
        warmup: WARMUP,
        runs: RUNS,
        page_runs: PAGE_RUNS,
        slow_ms: SLOW_MS,
        slow_runs: SLOW_RUNS,
        request_timeout_ms: REQUEST_TIMEOUT_MS,
      },
      data: {
        migrate_seconds: migrateSeconds,
        build_seconds: built.seconds,
        build_steps: built.steps,
        sizes_reached: built.reached,
        expected: built.expected,
        actual: built.actual,
      },
      history_page_member_over_service: pages,
      member_unfiltered_selects: unfiltered,
      explain_analyze: explain,
      // One run each, inside Postgres: what RLS costs without the per-request overhead of REST.
      explain_execution_ms: Object.fromEntries(
        Object.entries(explain).map(([k, plan]) => [k, executionMs(plan)]),
      ),
      summary: entries,
      total_seconds: seconds(performance.now() - benchStarted),
    };

    console.table({
      "history page 1": {
        member_p50: pages.page1.member.p50,
        member_p95: pages.page1.member.p95,
        service_p50: pages.page1.service.p50,
        service_p95: pages.page1.service.p95,
        ratio: pages.page1.member_over_service_p50,
        runs: pages.page1.member.runs,
      },
      "history page 2": {
        member_p50: pages.page2.member.p50,
        member_p95: pages.page2.member.p95,
        service_p50: pages.page2.service.p50,
        service_p95: pages.page2.service.p95,
        ratio: pages.page2.member_over_service_p50,
        runs: pages.page2.member.runs,
      },
      ...Object.fromEntries(
        unfiltered.map((u) => [
          `${u.table} ${u.request}`,
          {
            member_p50: u.member.p50,
            member_p95: u.member.p95,
            service_p50: u.service.p50,
            service_p95: u.service.p95,
            ratio: ratio(u.member.p50, u.service.p50),
            runs: u.member.runs,
          },
        ]),
      ),
    });
    console.table(entries);
    console.log(`build ${built.seconds} s, total ${result.total_seconds} s`);
    const out = join(ROOT, "bench", "results", "rls-scale.json");
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    await mergeSummary(entries);
    // Sizes not reached: the figures are written (and say so) but the bench did not measure what it claims.
    if (!built.reached) process.exitCode = 1;
  } finally {
    await stack?.close();
    await sql?.end();
    await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
    await pg.stop();
  }
}

await main();
