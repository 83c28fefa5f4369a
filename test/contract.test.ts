import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AI_USER_ID,
  codeForStatus,
  ERROR_CODES,
  ERROR_STATUS,
  type ErrorCode,
  errorEnvelope,
  inviteStatus,
  LOBBY_TOPIC,
  parseTopic,
  roomLiveTopic,
  roomTopic,
  userTopic,
} from "../functions/_shared/contract.ts";
import { mapDbError } from "../functions/_shared/db.ts";
import { ApiError } from "../functions/_shared/errors.ts";
import { errorResponse } from "../functions/_shared/http.ts";
import { fromFunctionResponse, fromPostgrestError, RoomkitHttpError } from "../src/client/errors.ts";
import { createTestDatabase, type TestDatabase } from "./support/db.ts";

/** The schemas holding Roomkit's SQL functions (the API schema and the helpers' schema). */
const ROOMKIT_SCHEMAS = ["roomkit", "roomkit_private"];

/** One `raise exception` in a SQL function, with each code its hint can take. */
interface Raise {
  fn: string;
  state: string;
  hint: string;
}

const RAISE = /raise\s+exception\b([\s\S]*?);/gi;

/**
 * The codes a hint expression can give. `'invite_' || invite.status::text` is raised only for an
 * invite that is no longer pending, so it stands for `invite_<status>` of every other status.
 */
function hintsOf(expression: string | undefined): string[] {
  if (expression === undefined) return ["(no hint)"];
  const literal = /^'([^']*)'$/.exec(expression)?.[1];
  if (literal !== undefined) return [literal];
  if (/^'invite_'\s*\|\|\s*\w+\.status::text$/.test(expression))
    return inviteStatus.options.filter((s) => s !== "pending").map((s) => `invite_${s}`);
  return [`(unresolved: ${expression})`];
}

function raisesIn(fn: string, source: string): Raise[] {
  return [...source.matchAll(RAISE)].flatMap(([, using = ""]) => {
    // Without an errcode, plpgsql raises P0001.
    const state = /errcode\s*=\s*'(\w{5})'/i.exec(using)?.[1] ?? "P0001";
    const hint = /hint\s*=\s*('[^']*'(?:\s*\|\|\s*[^,;]+)?)/i.exec(using)?.[1]?.trim();
    return hintsOf(hint).map((h) => ({ fn, state, hint: h }));
  });
}

/** PostgREST's status for the SQLSTATEs Roomkit raises on purpose (PostgREST `Error.hs`, STYLE.md §5). */
function postgrestStatus(state: string, hint: string): number | undefined {
  if (state === "42501") return hint === "not_authenticated" ? 401 : 403;
  if (state === "22023" || state === "P0001") return 400;
  const explicit = /^PT(\d{3})$/.exec(state)?.[1];
  return explicit === undefined ? undefined : Number(explicit);
}

/** The SQLSTATE a SQL function raises a code of this status with. */
function sqlstateFor(status: number): string {
  if (status === 401 || status === 403) return "42501";
  if (status === 400) return "22023";
  return `PT${status}`;
}

/** An error as postgres.js reports one from the server. */
function pgError(state: string, hint: string | null): Error {
  return Object.assign(new Error("raised on purpose"), { code: state, hint, severity: "ERROR" });
}

describe("the SQL against the contract", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  /** A function of the Roomkit schemas by name, schema-qualified (e.g. `roomkit_private.ai_user_id`). */
  async function qualified(name: string): Promise<string> {
    const [row] = await db.sql<{ fn: string }[]>`
      select quote_ident(n.nspname) || '.' || quote_ident(p.proname) as fn
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.proname = ${name} and n.nspname = any(${ROOMKIT_SCHEMAS})`;
    if (!row) throw new Error(`no function ${name} in ${ROOMKIT_SCHEMAS.join(", ")}`);
    return row.fn;
  }

  it("when a SQL function raises an error, then its hint is a contract code with the status PostgREST gives its SQLSTATE", async () => {
    const functions = await db.sql<{ fn: string; source: string }[]>`
      select n.nspname || '.' || p.proname as fn, p.prosrc as source
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = any(${ROOMKIT_SCHEMAS})`;
    const raises = functions.flatMap((f) => raisesIn(f.fn, f.source));
    // A broken extractor must not pass by finding nothing.
    expect(raises.length).toBeGreaterThan(20);
    expect(raises.map((r) => r.hint)).toEqual(expect.arrayContaining(["room_full", "invite_expired"]));

    const wrong = raises.flatMap(({ fn, state, hint }) => {
      const status = postgrestStatus(state, hint);
      if (!Object.hasOwn(ERROR_STATUS, hint)) return [`${fn}: ${state} ${hint} is not a contract code`];
      const want = ERROR_STATUS[hint as ErrorCode];
      return status === want ? [] : [`${fn}: ${state} ${hint} answers ${status}, the contract says ${want}`];
    });
    expect([...new Set(wrong)]).toEqual([]);
  });

  it("when SQL names the AI participant, then it is AI_USER_ID", async () => {
    const [row] = await db.sql.unsafe<{ id: string }[]>(`select ${await qualified("ai_user_id")}() as id`);
    expect(row?.id).toBe(AI_USER_ID);
  });

  it("when SQL names a room's topics, then they are the contract's roomTopic and roomLiveTopic at the room's epoch", async () => {
    const [room] = await db.sql<{ id: string }[]>`
      insert into roomkit.rooms (kind, name, ai_mode, epoch) values ('private', 'Topics', 'off', 3) returning id`;
    const id = room?.id ?? "";
    const fn = await qualified("room_topic");
    const [row] = await db.sql.unsafe<{ events: string; live: string }[]>(
      `select ${fn}($1, false) as events, ${fn}($1, true) as live`,
      [id],
    );
    expect(row).toEqual({ events: roomTopic(id, 3), live: roomLiveTopic(id, 3) });
    expect(parseTopic(row?.events ?? "")).toEqual({ kind: "room", roomId: id, epoch: 3 });
    expect(parseTopic(row?.live ?? "")).toEqual({ kind: "room_live", roomId: id, epoch: 3 });
    for (const other of [userTopic(id), LOBBY_TOPIC, `room:${id}:other`, `room:${id}`, "room:not-a-uuid:1"])
      expect(parseTopic(other)?.kind ?? "none").not.toMatch(/^room/);
  });
});

describe.each(ERROR_CODES)("the code %s", (code) => {
  const status = ERROR_STATUS[code];
  const state = sqlstateFor(status);
  // PostgREST answers 42501 with 401 only to a signed-out caller.
  const role = status === 401 ? "anon" : "authenticated";

  it("when a function throws it, then the response has its status and the client reads it back", async () => {
    const response = errorResponse(new ApiError(code, "m"), "req-1", "contract");
    expect(response.status).toBe(status);
    expect(errorEnvelope.parse(await response.clone().json()).error.code).toBe(code);
    const error = await fromFunctionResponse(response);
    expect(error).toBeInstanceOf(RoomkitHttpError);
    expect(error).toMatchObject({ code, status });
  });

  it("when SQL raises it as a hint, then a function and the client both give the code with its status", () => {
    expect(mapDbError(pgError(state, code), role)).toMatchObject({ code, status });
    expect(fromPostgrestError({ message: "m", code: state, hint: code }, status)).toMatchObject({
      code,
      status,
    });
  });

  it("when an error of its status names no code, then both sides give a generic code of that status", () => {
    const generic = codeForStatus(status);
    expect(generic && ERROR_STATUS[generic]).toBe(status);
    expect(mapDbError(pgError(state, null), role)).toMatchObject({ code: generic, status });
    expect(fromPostgrestError({ message: "m", code: state, hint: null }, status).code).toBe(generic);
  });
});

describe("a signed-out caller", () => {
  it("when SQL denies them with 42501, then both sides give 401 not_authenticated whatever the hint", () => {
    expect(mapDbError(pgError("42501", "not_member"), "anon")).toMatchObject({
      code: "not_authenticated",
      status: 401,
    });
    expect(fromPostgrestError({ message: "m", code: "42501", hint: "not_member" }, 401).code).toBe(
      "not_authenticated",
    );
  });
});
