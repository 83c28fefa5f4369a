/**
 * The local stack's `/rest/v1`: a PostgREST stand-in for what postgrest-js 2.119 sends.
 * Per request, as PostgREST does (reference postgrest-auth.md §5): verify the JWT, open one
 * READ COMMITTED transaction (READ ONLY for GET/HEAD and stable functions), set the role, claims
 * and request GUCs transaction-locally, run one statement, honour `response.status/headers`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { decodeJwt } from "jose";
import postgres from "postgres";
import { actAsCaller, type Caller } from "../caller.ts";
import { API_DEFAULTS, type ApiConfig } from "../config.ts";
import {
  BodyError,
  DEFAULT_BODY_LIMIT_BYTES,
  decodePathSegment,
  header,
  isConnectionError,
  readBody,
} from "../http.ts";
import { JwtError, verifyJwt } from "../jwt.ts";
import type { StackKeys } from "../keys.ts";
import type { Surface, SurfaceFactory } from "../surface.ts";
import {
  fromPgError,
  invalidBody,
  invalidPath,
  invalidRange,
  isPgError,
  jwtClaimsError,
  jwtDecodeError,
  RestError,
  singularityError,
  tableNotFound,
  unacceptableSchema,
} from "./errors.ts";
import {
  type Condition,
  type Preferences,
  parseField,
  parseLogic,
  parseNonNegative,
  parseOperation,
  parseOrder,
  parsePrefer,
  parseSelect,
  type SelectItem,
  splitTopLevel,
  unquote,
} from "./parse.ts";
import {
  closest,
  compareOverloads,
  loadSchemaCache,
  type RoutineInfo,
  type SchemaCache,
  type Table,
} from "./schema-cache.ts";
import {
  buildCallCte,
  buildDeleteCte,
  buildInsertCte,
  buildPlannedCount,
  buildReadStatement,
  buildUpdateCte,
  type CallArgs,
  checkColumns,
  checkUnusedPaths,
  ident,
  type NodeParams,
  Params,
  ReadBuilder,
  type ReadOptions,
  type Source,
} from "./sql.ts";

/** Knobs of the REST surface: the `[api]` settings (CLI defaults for absent ones) and the pool size. */
export interface RestOptions extends Partial<ApiConfig> {
  /** Connections in the request pool. */
  poolSize?: number;
}

/** PostgREST's `db-anon-role` as the Supabase CLI sets it. */
const ANON_ROLE = "anon";
/** Clock skew PostgREST tolerates on `exp`/`nbf`/`iat` (`Auth/Jwt.hs allowedSkewSeconds`). */
const JWT_SKEW_SECONDS = 30;
/** Unknown relations trigger a schema reload at most this often (the CLI may add tables while we run). */
const RELOAD_INTERVAL_MS = 1000;
const JSON_TYPE = "application/json; charset=utf-8";
const OBJECT_TYPE = "application/vnd.pgrst.object+json; charset=utf-8";

/** Type handlers that hand every value to Postgres as text and read every result as text. */
const passthrough = (x: unknown) => (typeof x === "string" ? x : String(x));
const identity = (x: string) => x;
const TEXT_TYPES = {
  json: { to: 114, from: [114, 3802], serialize: passthrough, parse: identity },
  boolean: { to: 16, from: [16], serialize: passthrough, parse: identity },
  date: { to: 1184, from: [1082, 1114, 1184], serialize: passthrough, parse: identity },
  bytea: { to: 17, from: [17], serialize: passthrough, parse: identity },
  number: { to: 0, from: [21, 23, 26, 700, 701, 20, 1700], serialize: passthrough, parse: identity },
};

/** The request's caller: the JWT's role (or anon) and claims. */
type Auth = Caller;

interface Outcome {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

interface StatementRow {
  body: string | null;
  page_total: string | number;
  total: string | number | null;
  inserted?: string | number | null;
  csv_rows?: string | null;
  response_headers: string | null;
  response_status: string | null;
}

/**
 * Resolves the role and claims of a request from `Authorization: Bearer <jwt>`, as PostgREST's
 * auth middleware does; throws PGRST301/PGRST303 for unusable tokens.
 *
 * @example
 * const { role } = await authenticate(req.headers.authorization, keys); // "anon" without a header
 */
export async function authenticate(authorization: string | undefined, keys: StackKeys): Promise<Auth> {
  if (authorization === undefined) return { role: ANON_ROLE, claims: { role: ANON_ROLE } };
  const m = /^bearer\s*(.*)$/is.exec(authorization.trim());
  if (!m) return { role: ANON_ROLE, claims: { role: ANON_ROLE } };
  const token = m[1]!.trim();
  if (token === "") throw jwtDecodeError("Empty JWT is sent in Authorization header");
  const parts = token.split(".").length;
  if (parts !== 3) throw jwtDecodeError(`Expected 3 parts in JWT; got ${parts}`);
  let claims: Record<string, unknown>;
  try {
    claims = (await verifyJwt(token, keys)) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof JwtError)) throw error;
    if (error.reason === "expired") {
      // jose checked the signature before the expiry; PostgREST tolerates 30 s of skew.
      const payload = decodeJwt(token);
      if (typeof payload.exp !== "number" || payload.exp + JWT_SKEW_SECONDS < Date.now() / 1000) {
        throw jwtClaimsError("JWT expired");
      }
      claims = payload as Record<string, unknown>;
    } else if (error.reason === "bad_signature") {
      throw jwtDecodeError(
        "No suitable key or wrong key type",
        "None of the keys was able to decode the JWT",
      );
    } else if (error.reason === "unsupported_alg") {
      throw jwtDecodeError("Wrong or unsupported encoding algorithm");
    } else if (/nbf|not active/i.test(error.message)) {
      throw jwtClaimsError("JWT not yet valid");
    } else {
      throw jwtDecodeError("JWT cryptographic operation failed");
    }
  }
  const role = typeof claims.role === "string" && claims.role !== "" ? claims.role : ANON_ROLE;
  return { role, claims: { ...claims, role } };
}

/** The parsed query string of one request. */
interface QueryParts {
  select: SelectItem[];
  nodeParams: Map<string, NodeParams>;
  columns?: string[];
  onConflict?: string[];
  rpcArgs: Record<string, string>;
  canonical: string;
}

function nodeFor(map: Map<string, NodeParams>, path: string): NodeParams {
  let node = map.get(path);
  if (!node) {
    node = { conditions: [] };
    map.set(path, node);
  }
  return node;
}

/** Splits the query string into select, per-embed filters/order/paging, and RPC arguments. */
function parseQuery(search: URLSearchParams, rpcParamNames: Set<string> | null): QueryParts {
  const out: QueryParts = { select: [{ kind: "star" }], nodeParams: new Map(), rpcArgs: {}, canonical: "" };
  nodeFor(out.nodeParams, "");
  const entries = [...search.entries()];
  for (const [key, value] of entries) {
    if (key === "select") {
      out.select = parseSelect(value);
      continue;
    }
    if (key === "columns" || key === "on_conflict") {
      const list = splitTopLevel(value).map((c) => unquote(c.trim()));
      if (key === "columns") out.columns = list;
      else out.onConflict = list;
      continue;
    }
    const segments = key.split(".");
    const last = segments[segments.length - 1]!;
    if (last === "order" || last === "limit" || last === "offset") {
      const node = nodeFor(out.nodeParams, segments.slice(0, -1).join("."));
      if (last === "order") node.order = parseOrder(value);
      else node[last] = parseNonNegative(last, value);
      continue;
    }
    if (last === "or" || last === "and") {
      const negated = segments.length > 1 && segments[segments.length - 2] === "not";
      const path = segments.slice(0, negated ? -2 : -1).join(".");
      nodeFor(out.nodeParams, path).conditions.push(parseLogic(last, negated, value));
      continue;
    }
    if (rpcParamNames && segments.length === 1 && rpcParamNames.has(key)) {
      out.rpcArgs[key] = value;
      continue;
    }
    // A filter: `[embed.path.]column=[not.]op.value`. JSON paths may contain dots only after `->`.
    const arrow = key.indexOf("->");
    const head = arrow < 0 ? key : key.slice(0, arrow);
    const dot = head.lastIndexOf(".");
    const path = dot < 0 ? "" : key.slice(0, dot);
    const fieldText = dot < 0 ? key : key.slice(dot + 1);
    const { negated, operation } = parseOperation(value);
    const condition: Condition = { kind: "filter", field: parseField(fieldText), negated, operation };
    nodeFor(out.nodeParams, path).conditions.push(condition);
  }
  out.canonical = entries
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .sort()
    .join("&");
  return out;
}

/** Carries a finished response out of a transaction that `Prefer: tx=rollback` rolls back. */
class RolledBack {
  constructor(readonly result: unknown) {}
}

/** Adds `tx=rollback` to `Preference-Applied` of a rolled-back request's outcome. */
function withTxApplied<T>(result: T): T {
  const outcome = result as unknown as Outcome;
  if (outcome && typeof outcome === "object" && "headers" in outcome) {
    const applied = outcome.headers["Preference-Applied"];
    outcome.headers["Preference-Applied"] = applied ? `${applied}, tx=rollback` : "tx=rollback";
  }
  return result;
}

/** `Content-Range` as `RangeQuery.hs contentRangeH` formats it. */
function contentRange(lower: number, upper: number, total: number | null): string {
  const range = total !== 0 && lower <= upper ? `${lower}-${upper}` : "*";
  return `${range}/${total === null ? "*" : total}`;
}

/** 200, or 206 when counting showed more rows than returned, or 416 past the end. */
function rangeStatus(lower: number, upper: number, total: number | null): number {
  if (total === null) return 200;
  if (lower > total) return 416;
  if (1 + upper - lower < total) return 206;
  return 200;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function headerList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Applies `response.status` / `response.headers` set by SQL (PostgREST `overrideStatusHeaders`). */
function applyGucs(outcome: Outcome, row: StatementRow | undefined): Outcome {
  if (!row) return outcome;
  if (row.response_status) {
    const status = Number(row.response_status);
    if (!/^\d{3}$/.test(row.response_status.trim()) || status < 100) {
      throw new RestError(500, "PGRST112", "response.status guc must be a valid status code");
    }
    outcome.status = status;
  }
  if (row.response_headers) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(row.response_headers);
    } catch {
      parsed = null;
    }
    const invalid = () =>
      new RestError(
        500,
        "PGRST111",
        "response.headers guc must be a JSON array composed of objects with a single key and a string value",
      );
    if (!Array.isArray(parsed)) throw invalid();
    for (const entry of parsed) {
      const pairs = entry && typeof entry === "object" ? Object.entries(entry) : [];
      if (pairs.length !== 1 || typeof pairs[0]![1] !== "string") throw invalid();
      outcome.headers[pairs[0]![0]] = pairs[0]![1] as string;
    }
  }
  return outcome;
}

/**
 * Methods whose schema comes from `Content-Profile`; every other method (GET, HEAD, OPTIONS) uses
 * `Accept-Profile` (`ApiRequest.hs getSchema`).
 */
const CONTENT_PROFILE_METHODS: ReadonlySet<string> = new Set(["POST", "PATCH", "PUT", "DELETE"]);

/** The schema a request addresses. */
interface Profile {
  schema: string;
  /**
   * The schema was asked for, or several are exposed: responses with a body then carry
   * `Content-Profile` (`Response.hs profileHeader`).
   */
  negotiated: boolean;
}

/**
 * The request's schema from its profile header, or the first exposed schema without one. The
 * value must be one of `schemas` exactly (case matters; an empty value is no schema), else 406
 * PGRST106.
 *
 * @example
 * negotiateProfile("POST", req, ["public", "roomkit"]) // { schema: "roomkit", negotiated: true } with `Content-Profile: roomkit`
 */
export function negotiateProfile(method: string, req: IncomingMessage, schemas: readonly string[]): Profile {
  const requested = header(req, CONTENT_PROFILE_METHODS.has(method) ? "content-profile" : "accept-profile");
  if (requested === undefined) return { schema: schemas[0]!, negotiated: schemas.length > 1 };
  if (!schemas.includes(requested)) throw unacceptableSchema(requested, schemas);
  return { schema: requested, negotiated: true };
}

/** What the path addresses (`ApiRequest.hs getResource`): `/`, `/<relation>` or `/rpc/<fn>`; deeper is 404 PGRST125. */
type Resource = { kind: "root" } | { kind: "relation"; name: string } | { kind: "rpc"; name: string };

function parseResource(pathname: string): Resource {
  const segments = pathname
    .split("/")
    .filter((s) => s !== "")
    .map(decodePathSegment);
  if (segments.length === 0) return { kind: "root" };
  if (segments.length === 1) return { kind: "relation", name: segments[0]! };
  if (segments.length === 2 && segments[0] === "rpc") return { kind: "rpc", name: segments[1]! };
  throw invalidPath();
}

/**
 * `Allow` of an OPTIONS request. PostgREST narrows these by the table's privileges and the
 * function's volatility (`Response.hs`); the stand-in does not.
 */
const ALLOW_RELATION = "OPTIONS,GET,HEAD,POST,PATCH,DELETE";
const ALLOW_RPC = "OPTIONS,GET,HEAD,POST";

/** Media type negotiation for the few types postgrest-js asks for. */
function negotiate(accept: string | undefined): { single: boolean; stripNulls: boolean; csv?: boolean } {
  if (!accept) return { single: false, stripNulls: false };
  const types = accept.split(",").map((t) => t.trim().toLowerCase());
  for (const type of types) {
    const base = type.split(";")[0]!.trim();
    const stripNulls = /;\s*nulls=stripped/.test(type);
    if (base === "application/vnd.pgrst.object+json" || base === "application/vnd.pgrst.object") {
      return { single: true, stripNulls };
    }
    if (base === "text/csv") return { single: false, stripNulls: false, csv: true };
    if (
      base === "application/json" ||
      base === "application/vnd.pgrst.array+json" ||
      base === "*/*" ||
      base === "application/*"
    ) {
      return { single: false, stripNulls };
    }
  }
  throw new RestError(406, "PGRST107", `None of these media types are available: ${types.join(", ")}`);
}

/**
 * Builds the REST surface over the stack database (the stack mounts it at `/rest/v1`).
 *
 * @example
 * const rest = createRest({ dbUrl, keys, log: console.log });
 * server.on("request", (req, res) => rest.handle(req, res, req.url ?? "/"));
 */
export function createRest(options: {
  dbUrl: string;
  keys: StackKeys;
  log(line: string): void;
  rest?: RestOptions;
}): Surface & { reload(): Promise<void> } {
  const schemas = options.rest?.schemas ?? API_DEFAULTS.schemas;
  const extraSearchPath = options.rest?.extraSearchPath ?? API_DEFAULTS.extraSearchPath;
  const maxRows = options.rest?.maxRows ?? API_DEFAULTS.maxRows;
  const sql = postgres(options.dbUrl, {
    max: options.rest?.poolSize ?? 10,
    fetch_types: false,
    prepare: true,
    onnotice: () => {},
    idle_timeout: 30,
    connection: { application_name: "roomkit-rest" },
    types: TEXT_TYPES as unknown as Record<string, postgres.PostgresType>,
  });
  let cache: Promise<SchemaCache> | null = null;
  let lastReload = 0;
  let listening: Promise<{ unlisten(): Promise<void> } | null> | null = null;

  const reload = async () => {
    lastReload = Date.now();
    const next = loadSchemaCache(sql, schemas);
    await next;
    cache = next;
  };
  const getCache = () => {
    if (!cache) {
      lastReload = Date.now();
      cache = loadSchemaCache(sql, schemas);
      cache.catch(() => {
        cache = null;
      });
      listening ??= sql
        .listen("pgrst", (payload) => {
          if (payload === "" || payload === "reload schema") {
            reload().catch((e) => options.log(`schema reload failed: ${(e as Error).message}`));
          }
        })
        .catch((e) => {
          options.log(`listen pgrst failed: ${(e as Error).message}`);
          return null;
        });
    }
    return cache;
  };
  /** Reloads when an unknown relation is asked for, at most once per RELOAD_INTERVAL_MS. */
  const reloadIfStale = async (): Promise<boolean> => {
    if (Date.now() - lastReload < RELOAD_INTERVAL_MS) return false;
    await reload();
    return true;
  };

  async function findTable(schema: string, name: string): Promise<{ cache: SchemaCache; table: Table }> {
    let sc = await getCache();
    let table = sc.tables.get(`${schema}.${name}`);
    if (!table && (await reloadIfStale())) {
      sc = await getCache();
      table = sc.tables.get(`${schema}.${name}`);
    }
    if (!table) {
      const names = [...sc.tables.values()].filter((t) => t.schema === schema).map((t) => t.name);
      throw tableNotFound(schema, name, closest(name, names));
    }
    return { cache: sc, table };
  }

  async function findRoutines(
    schema: string,
    name: string,
  ): Promise<{ cache: SchemaCache; routines: RoutineInfo[] }> {
    let sc = await getCache();
    let routines = sc.functions.get(`${schema}.${name}`);
    if (!routines && (await reloadIfStale())) {
      sc = await getCache();
      routines = sc.functions.get(`${schema}.${name}`);
    }
    return { cache: sc, routines: routines ?? [] };
  }

  /** Runs the statements of one request in one transaction with the request's role and GUCs. */
  async function transaction<T>(
    req: IncomingMessage,
    pathname: string,
    auth: Auth,
    schema: string,
    readOnly: boolean,
    prefs: Preferences,
    sc: SchemaCache,
    work: (run: (text: string, params: (string | null)[]) => Promise<StatementRow[]>) => Promise<T>,
  ): Promise<T> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (k !== "cookie" && v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
    }
    // PostgREST's order (`PreQuery.hs txVarQuery`): the request's schema then `db-extra-search-path`,
    // the role's own settings, the role and claims, then the request's method, path, headers, cookies.
    const before: [string, string][] = [
      ["search_path", [schema, ...extraSearchPath].map(ident).join(", ")],
      ...(sc.roleSettings.get(auth.role) ?? []),
    ];
    const after: [string, string][] = [
      ["request.method", req.method ?? "GET"],
      ["request.path", pathname],
      ["request.headers", JSON.stringify(headers)],
      ["request.cookies", JSON.stringify(parseCookies(req.headers.cookie))],
    ];
    if (prefs.timezone) after.push(["timezone", prefs.timezone]);
    const mode = `isolation level read committed ${readOnly ? "read only" : "read write"}`;
    const attempt = async (prepare: boolean) =>
      (await sql.begin(mode, async (tx) => {
        const result = await runInTransaction(tx, prepare);
        // `Prefer: tx=rollback`: the response is built, then everything is undone (`MainTx.hs optionalRollback`).
        if (prefs.tx === "rollback") throw new RolledBack(result);
        return result;
      })) as T;
    const runInTransaction = async (tx: postgres.TransactionSql, prepare: boolean): Promise<T> => {
      await actAsCaller(tx, auth, { before, after, prepare });
      return work(
        async (text, params) =>
          (await tx.unsafe(text, params as never[], { prepare })) as unknown as StatementRow[],
      );
    };
    try {
      return await attempt(true);
    } catch (error) {
      if (error instanceof RolledBack) return withTxApplied(error.result as T);
      // A migration changed a relation under a prepared statement; the request itself is fine.
      if (isPgError(error) && error.code === "0A000" && /cached plan must not change/.test(error.message)) {
        return attempt(false).catch((retryError: unknown) => {
          if (retryError instanceof RolledBack) return withTxApplied(retryError.result as T);
          throw retryError;
        });
      }
      throw error;
    }
  }

  async function handleTable(
    req: IncomingMessage,
    method: string,
    pathname: string,
    schema: string,
    name: string,
    search: URLSearchParams,
    auth: Auth,
  ): Promise<Outcome> {
    const { cache: sc, table } = await findTable(schema, name);
    const q = parseQuery(search, null);
    const prefs = parsePrefer(headerList(req.headers.prefer));
    if (prefs.handling === "strict" && prefs.invalid.length > 0) {
      throw new RestError(
        400,
        "PGRST122",
        "Invalid preferences given with handling=strict",
        `Invalid preferences: ${prefs.invalid.join(", ")}`,
      );
    }
    const media = negotiate(req.headers.accept);
    const source: Source = { name: table.name, table, columns: [] };
    const root = q.nodeParams.get("")!;
    const applied: string[] = [];

    if (method === "GET" || method === "HEAD") {
      const rangeHeader =
        method === "GET" ? /^(?:items=)?(\d+)-(\d*)$/.exec(String(req.headers.range ?? "")) : null;
      let offset = root.offset ?? 0;
      let limit = root.limit;
      if (rangeHeader) {
        const from = Number(rangeHeader[1]);
        const to = rangeHeader[2] === "" ? undefined : Number(rangeHeader[2]);
        if (to !== undefined && to < from) {
          throw invalidRange(
            "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
          );
        }
        const start = Math.max(offset, from);
        const endParam = limit === undefined ? Infinity : offset + limit - 1;
        const end = Math.min(endParam, to ?? Infinity);
        offset = start;
        limit = end === Infinity ? undefined : Math.max(0, end - start + 1);
      }
      if (limit !== undefined && limit < 0)
        throw invalidRange("Limit should be greater than or equal to zero.");
      const effectiveLimit = Math.min(limit ?? maxRows, maxRows);
      const readOptions: ReadOptions = {
        schema,
        fromSql: `${ident(table.schema)}.${ident(table.name)}`,
        source,
        select: q.select,
        rootConditions: true,
        limit: effectiveLimit,
        offset,
        exactCount: prefs.count === "exact" || prefs.count === "estimated",
        firstRowOnly: false,
        csv: media.csv === true,
      };
      const statement = buildReadStatement(sc, q.nodeParams, readOptions);
      checkUnusedPaths(q.nodeParams, statement.usedPaths);
      if (prefs.count) applied.push(`count=${prefs.count}`);
      return transaction(req, pathname, auth, schema, true, prefs, sc, async (run) => {
        let planned: number | null = null;
        if (prefs.count === "planned" || prefs.count === "estimated") {
          const explain = buildPlannedCount(sc, q.nodeParams, readOptions);
          const rows = (await run(explain.sql, explain.params)) as unknown as { "QUERY PLAN": string }[];
          const plan = JSON.parse(String(rows[0]?.["QUERY PLAN"] ?? "[]")) as {
            Plan?: { "Plan Rows"?: number };
          }[];
          planned = plan[0]?.Plan?.["Plan Rows"] ?? 0;
        }
        const [row] = await run(statement.sql, statement.params);
        const pageTotal = Number(row?.page_total ?? 0);
        let total: number | null = row?.total === null || row?.total === undefined ? null : Number(row.total);
        if (prefs.count === "planned") total = planned;
        if (prefs.count === "estimated" && planned !== null && planned > maxRows) total = planned;
        if (media.single && pageTotal !== 1) throw singularityError(pageTotal);
        const status = rangeStatus(offset, offset + pageTotal - 1, total);
        if (status === 416) {
          throw invalidRange(`An offset of ${offset} was requested, but there are only ${total ?? 0} rows.`);
        }
        const headers: Record<string, string> = {
          "Content-Range": contentRange(offset, offset + pageTotal - 1, total),
          "Content-Location": `/${table.name}${q.canonical ? `?${q.canonical}` : ""}`,
          "Content-Type": media.single ? OBJECT_TYPE : JSON_TYPE,
        };
        if (applied.length > 0) headers["Preference-Applied"] = applied.join(", ");
        let body = row?.body ?? "[]";
        if (media.single) body = body.slice(1, -1).trim();
        if (media.stripNulls) body = stripNulls(body);
        if (media.csv) {
          // Header from the first row's keys, then one record per line, as PostgREST's `asCsvF`.
          const first = (JSON.parse(body) as Record<string, unknown>[])[0];
          body = `${first ? Object.keys(first).join(",") : ""}\n${row?.csv_rows ?? ""}`;
          headers["Content-Type"] = "text/csv; charset=utf-8";
        }
        return applyGucs({ status, headers, body: method === "HEAD" ? null : body }, row);
      });
    }

    if (method !== "POST" && method !== "PATCH" && method !== "DELETE") {
      throw new RestError(405, "PGRST117", `Unsupported HTTP method: ${method}`);
    }
    const wantsRows = prefs.return === "representation" || prefs.return === "headers-only";
    const params = new Params();
    let cte: string;
    if (method === "POST") {
      const raw = (await readBody(req)).toString("utf8");
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        throw invalidBody();
      }
      const rows = Array.isArray(body) ? body : [body];
      if (rows.some((r) => typeof r !== "object" || r === null || Array.isArray(r))) {
        throw invalidBody("All object keys must match");
      }
      const records = rows as Record<string, unknown>[];
      const columns = q.columns ?? [...new Set(records.flatMap((r) => Object.keys(r)))];
      checkColumns(table, columns);
      const conflictColumns = q.onConflict ?? table.primaryKey;
      if (q.onConflict) checkColumns(table, q.onConflict);
      const resolution = prefs.resolution;
      const upsert =
        resolution && conflictColumns.length > 0
          ? { columns: conflictColumns, action: resolution === "merge-duplicates" ? "merge" : "ignore" }
          : undefined;
      if (upsert) applied.push(`resolution=${resolution}`);
      cte = buildInsertCte(
        {
          table,
          rows: records,
          columns,
          missingDefault: prefs.missing === "default",
          ...(upsert ? { onConflict: upsert as { columns: string[]; action: "merge" | "ignore" } } : {}),
          returning: wantsRows ? "rows" : "count",
        },
        params,
      );
    } else {
      const builder = new ReadBuilder(sc, schema, params, q.nodeParams);
      if (method === "PATCH") {
        const raw = (await readBody(req)).toString("utf8");
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          throw invalidBody();
        }
        if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalidBody();
        let patch = body as Record<string, unknown>;
        if (q.columns) {
          checkColumns(table, q.columns);
          patch = Object.fromEntries(
            q.columns.filter((c) => Object.hasOwn(patch, c)).map((c) => [c, patch[c]]),
          );
        }
        cte = buildUpdateCte(builder, table, patch, root.conditions, wantsRows ? "rows" : "count");
      } else {
        cte = buildDeleteCte(builder, table, root.conditions, wantsRows ? "rows" : "count");
      }
    }
    if (prefs.return) applied.push(`return=${prefs.return}`);
    if (prefs.count) applied.push(`count=${prefs.count}`);
    if (prefs.missing && method !== "DELETE") applied.push(`missing=${prefs.missing}`);
    if (prefs.handling) applied.push(`handling=${prefs.handling}`);
    if (prefs.maxAffected !== undefined && method !== "POST")
      applied.push(`max-affected=${prefs.maxAffected}`);

    let statementSql: string;
    let statementParams: (string | null)[];
    if (wantsRows) {
      const readOptions: ReadOptions = {
        schema,
        fromSql: `"pgrst_source"`,
        withSql: cte,
        source,
        select: prefs.return === "headers-only" ? [{ kind: "star" }] : q.select,
        rootConditions: false,
        exactCount: false,
      };
      const statement = buildReadStatement(sc, q.nodeParams, readOptions, params);
      if (prefs.return !== "headers-only") checkUnusedPaths(q.nodeParams, statement.usedPaths);
      statementSql = statement.sql.replace(
        / as total,/,
        method === "POST"
          ? ` as total, (select count(*) filter (where "pgrst_inserted") from "pgrst_source") as inserted,`
          : " as total,",
      );
      statementParams = statement.params;
    } else {
      const inserted = method === "POST" ? `count(*) filter (where "pgrst_inserted")` : "null::bigint";
      statementSql =
        `with ${cte} select null::text as body, count(*) as page_total, null::bigint as total, ${inserted} as inserted, ` +
        `nullif(current_setting('response.headers', true), '') as response_headers, ` +
        `nullif(current_setting('response.status', true), '') as response_status from "pgrst_source"`;
      statementParams = params.values;
    }

    return transaction(req, pathname, auth, schema, false, prefs, sc, async (run) => {
      const [row] = await run(statementSql, statementParams);
      const pageTotal = Number(row?.page_total ?? 0);
      if (media.single && pageTotal !== 1) throw singularityError(pageTotal);
      if (
        prefs.handling === "strict" &&
        prefs.maxAffected !== undefined &&
        method !== "POST" &&
        pageTotal > prefs.maxAffected
      ) {
        // Thrown inside the transaction, so the write is rolled back (`MainTx.hs`).
        throw new RestError(
          400,
          "PGRST124",
          "Query result exceeds max-affected preference constraint",
          `The query affects ${pageTotal} rows`,
        );
      }
      const total = prefs.count ? pageTotal : null;
      const headers: Record<string, string> = {};
      let status: number;
      if (method === "POST") {
        const inserted = Number(row?.inserted ?? 0);
        status = prefs.resolution === "merge-duplicates" && inserted <= 0 && pageTotal > 0 ? 200 : 201;
        headers["Content-Range"] = contentRange(1, 0, total);
        if (prefs.return === "headers-only" && row?.body && table.primaryKey.length > 0) {
          const first = (JSON.parse(row.body) as Record<string, unknown>[])[0];
          if (first) {
            const query = table.primaryKey
              .map((k) => `${encodeURIComponent(k)}=eq.${encodeURIComponent(String(first[k]))}`)
              .join("&");
            headers.Location = `/${table.name}?${query}`;
          }
        }
      } else if (method === "PATCH") {
        status = prefs.return === "representation" ? 200 : 204;
        headers["Content-Range"] = contentRange(0, pageTotal - 1, total);
      } else {
        status = prefs.return === "representation" ? 200 : 204;
        headers["Content-Range"] = contentRange(1, 0, total);
      }
      if (applied.length > 0) headers["Preference-Applied"] = applied.join(", ");
      let body: string | null = null;
      if (prefs.return === "representation") {
        body = row?.body ?? "[]";
        if (media.single) body = body.slice(1, -1).trim();
        if (media.stripNulls) body = stripNulls(body);
        headers["Content-Type"] = media.single ? OBJECT_TYPE : JSON_TYPE;
      }
      return applyGucs({ status, headers, body }, row);
    });
  }

  async function handleRpc(
    req: IncomingMessage,
    method: string,
    pathname: string,
    schema: string,
    name: string,
    search: URLSearchParams,
    auth: Auth,
  ): Promise<Outcome> {
    if (method !== "GET" && method !== "HEAD" && method !== "POST") {
      throw new RestError(405, "PGRST101", `Cannot use the ${method} method on RPC`);
    }
    const { cache: sc, routines } = await findRoutines(schema, name);
    const paramNames = new Set(routines.flatMap((r) => r.params.map((p) => p.name)));
    const q = parseQuery(search, method === "POST" ? null : paramNames);
    const prefs = parsePrefer(headerList(req.headers.prefer));
    const media = negotiate(req.headers.accept);

    let args: CallArgs;
    let argNames: string[];
    let rawBody = "";
    let bodyValue: unknown = {};
    if (method === "POST") {
      rawBody = (await readBody(req)).toString("utf8");
      if (rawBody.trim() !== "") {
        try {
          bodyValue = JSON.parse(rawBody);
        } catch {
          throw invalidBody();
        }
      }
      const isObject = typeof bodyValue === "object" && bodyValue !== null && !Array.isArray(bodyValue);
      argNames = isObject ? Object.keys(bodyValue as object) : [];
      args = { kind: "json-object", body: isObject ? (bodyValue as Record<string, unknown>) : {} };
    } else {
      argNames = Object.keys(q.rpcArgs);
      args = { kind: "query", values: q.rpcArgs };
    }
    const isObjectBody =
      method !== "POST" || (typeof bodyValue === "object" && bodyValue !== null && !Array.isArray(bodyValue));
    // A function with an unnamed parameter cannot be called with named arguments; only the single
    // unnamed json/jsonb form below takes it (`functions.rst`).
    const matches = routines.filter(
      (r) =>
        isObjectBody &&
        r.params.every((p) => p.name !== "") &&
        argNames.every((a) => r.params.some((p) => p.name === a)) &&
        r.params.every((p) => p.hasDefault || argNames.includes(p.name)),
    );
    let routine: RoutineInfo | undefined;
    if (matches.length === 1) routine = matches[0];
    else if (matches.length > 1) {
      const exact = matches.filter((r) => r.params.length === argNames.length);
      if (exact.length === 1) routine = exact[0];
      else {
        throw new RestError(
          300,
          "PGRST203",
          `Could not choose the best candidate function between: ${[...matches]
            .sort(compareOverloads)
            .map((r) => `${r.schema}.${r.name}(${r.params.map((p) => `${p.name} => ${p.type}`).join(", ")})`)
            .join(", ")}`,
          null,
          "Try renaming the parameters or the function itself in the database so function overloading can be resolved",
        );
      }
    }
    if (!routine && method === "POST") {
      // A single unnamed json/jsonb parameter takes the whole body (`functions.rst`).
      routine = routines.find(
        (r) =>
          r.params.length === 1 && r.params[0]!.name === "" && ["json", "jsonb"].includes(r.params[0]!.type),
      );
      if (routine) args = { kind: "single-json", body: rawBody.trim() === "" ? "{}" : rawBody };
    }
    if (!routine) throw noRpc(sc, schema, name, argNames, method === "POST", routines);

    const readOnly = method !== "POST" || routine.volatility !== "v";
    const params = new Params();
    const callCte = buildCallCte(routine, args, params);
    const isVoid = routine.returnType === "void";
    const isScalar = routine.returnTypeKind !== "c" && routine.returnColumns.length === 0;
    const root = q.nodeParams.get("")!;
    const offset = root.offset ?? 0;
    if (root.limit !== undefined && root.limit < 0)
      throw invalidRange("Limit should be greater than or equal to zero.");
    let statement: { sql: string; params: (string | null)[] };
    if (isVoid || isScalar) {
      const gucs =
        `nullif(current_setting('response.headers', true), '') as response_headers, ` +
        `nullif(current_setting('response.status', true), '') as response_status`;
      if (routine.returnsSet && !isVoid) {
        let inner = `select "pgrst_scalar" from "pgrst_call"`;
        if (root.limit !== undefined) inner += ` limit ${params.add(String(root.limit))}::bigint`;
        if (offset > 0) inner += ` offset ${params.add(String(offset))}::bigint`;
        statement = {
          sql:
            `with ${callCte} select coalesce(json_agg("pgrst_t"."pgrst_scalar"), '[]')::text as body, ` +
            `count(*) as page_total, ${prefs.count ? `(select count(*) from "pgrst_call")` : "null::bigint"} as total, ` +
            `${gucs} from (${inner}) as "pgrst_t"`,
          params: params.values,
        };
      } else {
        statement = {
          sql:
            `with ${callCte} select ${isVoid ? "null::text" : `coalesce((select to_json("pgrst_scalar") from "pgrst_call" limit 1), 'null')::text`} as body, ` +
            `(select count(*) from "pgrst_call") as page_total, ${prefs.count ? `(select count(*) from "pgrst_call")` : "null::bigint"} as total, ${gucs}`,
          params: params.values,
        };
      }
    } else {
      const table = routine.returnTable
        ? (sc.tables.get(`${routine.returnTable.schema}.${routine.returnTable.name}`) ?? null)
        : null;
      const source: Source = { name: routine.name, table, columns: routine.returnColumns };
      const built = buildReadStatement(
        sc,
        q.nodeParams,
        {
          schema,
          fromSql: `"pgrst_call"`,
          withSql: callCte,
          source,
          select: q.select,
          rootConditions: true,
          limit: Math.min(root.limit ?? maxRows, maxRows),
          offset,
          exactCount: prefs.count !== undefined,
          firstRowOnly: !routine.returnsSet,
        },
        params,
      );
      checkUnusedPaths(q.nodeParams, built.usedPaths);
      statement = built;
    }
    const strictMaxAffected = prefs.handling === "strict" && prefs.maxAffected !== undefined;
    if (strictMaxAffected && !routine.returnsSet) {
      throw new RestError(
        400,
        "PGRST128",
        "Function must return SETOF or TABLE when max-affected preference is used with handling=strict",
      );
    }
    return transaction(req, pathname, auth, schema, readOnly, prefs, sc, async (run) => {
      const [row] = await run(statement.sql, statement.params);
      const pageTotal = Number(row?.page_total ?? 0);
      const total = row?.total === null || row?.total === undefined ? null : Number(row.total);
      if (strictMaxAffected && pageTotal > prefs.maxAffected!) {
        // Thrown inside the transaction, so whatever the function wrote is rolled back (`MainTx.hs`).
        throw new RestError(
          400,
          "PGRST124",
          "Query result exceeds max-affected preference constraint",
          `The query affects ${pageTotal} rows`,
        );
      }
      if (isVoid) return applyGucs({ status: 204, headers: {}, body: null }, row);
      if (media.single && routine.returnsSet && pageTotal !== 1) throw singularityError(pageTotal);
      let status = routine.returnsSet ? rangeStatus(offset, offset + pageTotal - 1, total) : 200;
      if (status === 416) {
        throw invalidRange(`An offset of ${offset} was requested, but there are only ${total ?? 0} rows.`);
      }
      if (!routine.returnsSet) status = 200;
      const headers: Record<string, string> = {
        "Content-Range": routine.returnsSet
          ? contentRange(offset, offset + pageTotal - 1, total)
          : contentRange(0, 0, total),
        "Content-Type": media.single ? OBJECT_TYPE : JSON_TYPE,
      };
      if (prefs.count) headers["Preference-Applied"] = `count=${prefs.count}`;
      let body = row?.body ?? "null";
      if (media.single && routine.returnsSet) body = body.slice(1, -1).trim();
      if (media.stripNulls) body = stripNulls(body);
      return applyGucs({ status, headers, body: method === "HEAD" ? null : body }, row);
    });
  }

  const surface = {
    reload,
    async handle(req: IncomingMessage, res: ServerResponse, path: string) {
      const method = (req.method ?? "GET").toUpperCase();
      let auth: Auth | undefined;
      let outcome: Outcome;
      try {
        // PostgREST's order: the JWT, then the path, then the schema (`App.hs`, `ApiRequest.hs`).
        auth = await authenticate(req.headers.authorization, options.keys);
        const url = new URL(path, "http://rest.local");
        const resource = parseResource(url.pathname);
        const profile = negotiateProfile(method, req, schemas);
        outcome = await route(req, method, url, resource, profile.schema, auth);
        // PostgREST sends Content-Profile along with the Content-Type of a result body
        // (`Response.hs contentTypeHeaders`): not on 204s, OPTIONS or errors.
        if (profile.negotiated && outcome.headers["Content-Type"] !== undefined) {
          outcome.headers["Content-Profile"] = profile.schema;
        }
      } catch (error) {
        outcome = errorOutcome(error, auth);
      }
      send(res, outcome, method === "HEAD");
    },
    async close() {
      const l = await listening?.catch(() => null);
      await l?.unlisten().catch(() => {});
      await sql.end({ timeout: 5 });
    },
  };

  async function route(
    req: IncomingMessage,
    method: string,
    url: URL,
    resource: Resource,
    schema: string,
    auth: Auth,
  ): Promise<Outcome> {
    if (method === "OPTIONS") {
      return {
        status: 200,
        headers: { Allow: resource.kind === "rpc" ? ALLOW_RPC : ALLOW_RELATION },
        body: null,
      };
    }
    if (resource.kind === "root") return openApi(schema);
    if (resource.kind === "relation") {
      return handleTable(req, method, url.pathname, schema, resource.name, url.searchParams, auth);
    }
    return handleRpc(req, method, url.pathname, schema, resource.name, url.searchParams, auth);
  }

  const errorOutcome = (error: unknown, auth: Auth | undefined): Outcome => {
    let rest: RestError;
    if (error instanceof RestError) rest = error;
    else if (isConnectionError(error)) rest = databaseUnavailable(error);
    else if (isPgError(error)) rest = fromPgError(error, (auth?.role ?? ANON_ROLE) !== ANON_ROLE);
    else if (error instanceof BodyError) rest = bodyTooLarge();
    else {
      options.log(`unexpected error: ${(error as Error)?.stack ?? String(error)}`);
      rest = new RestError(500, "PGRSTX00", "Internal server error");
    }
    return {
      status: rest.status,
      headers: {
        "Content-Type": JSON_TYPE,
        "Proxy-Status": `PostgREST; error=${rest.code}`,
        ...rest.headers,
      },
      body: JSON.stringify(rest.body()),
    };
  };

  async function openApi(schema: string): Promise<Outcome> {
    const sc = await getCache();
    const paths: Record<string, object> = { "/": {} };
    for (const t of sc.tables.values()) if (t.schema === schema) paths[`/${t.name}`] = {};
    for (const [key, list] of sc.functions)
      if (list[0]?.schema === schema) paths[`/rpc/${key.split(".")[1]}`] = {};
    return {
      status: 200,
      headers: { "Content-Type": "application/openapi+json; charset=utf-8" },
      body: JSON.stringify({ swagger: "2.0", info: { title: "Roomkit local REST", version: "14" }, paths }),
    };
  }

  return surface;
}

/**
 * PGRST000, 503: the database cannot be reached (down or restarting). PostgREST answers this while
 * it retries its connection; `details` carries the driver's reason (`Error.hs` ConnectionUsageError).
 */
function databaseUnavailable(error: unknown): RestError {
  const reason = (error as { message?: string }).message ?? String(error);
  return new RestError(503, "PGRST000", "Database connection error. Retrying the connection.", reason);
}

/**
 * 413 for a body over the local stack's limit. PostgREST has no limit of its own (the platform's
 * proxy has one); the envelope is PostgREST's, the code that of an unusable body (PGRST102).
 */
function bodyTooLarge(): RestError {
  return new RestError(
    413,
    "PGRST102",
    "Request body too large",
    `The local stack accepts request bodies up to ${DEFAULT_BODY_LIMIT_BYTES} bytes`,
  );
}

/** PGRST202 with PostgREST's message, details and fuzzy hint (`Error.hs NoRpc`). */
function noRpc(
  sc: SchemaCache,
  schema: string,
  name: string,
  argNames: string[],
  isPost: boolean,
  overloads: RoutineInfo[],
): RestError {
  const keys = [...argNames].sort();
  const func = `${schema}.${name}`;
  const message = `Could not find the function ${func}${keys.length === 0 ? " without parameters" : `(${keys.join(", ")})`} in the schema cache`;
  const prms =
    keys.length === 0
      ? " without parameters"
      : ` with parameter${keys.length > 1 ? "s" : ""} ${keys.join(", ")}`;
  const details = `Searched for the function ${func}${prms}${isPost ? " or with a single unnamed json/jsonb parameter" : ""}, but no matches were found in the schema cache.`;
  let hint: string | null = null;
  if (overloads.length === 0) {
    const names = [...sc.functions.keys()]
      .filter((k) => k.startsWith(`${schema}.`))
      .map((k) => k.slice(schema.length + 1));
    const best = closest(name, names);
    if (best) hint = `Perhaps you meant to call the function ${schema}.${best}`;
  } else {
    const lists = overloads.map(
      (r) =>
        `(${r.params
          .map((p) => p.name)
          .sort()
          .join(", ")})`,
    );
    const best = closest(`(${keys.join(", ")})`, lists, 0.33);
    if (best) hint = `Perhaps you meant to call the function ${schema}.${name}${best}`;
  }
  return new RestError(404, "PGRST202", message, details, hint);
}

/** `application/vnd.pgrst.*;nulls=stripped`: drop null-valued keys of the returned objects. */
function stripNulls(body: string): string {
  const strip = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(strip)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([, x]) => x !== null)
              .map(([k, x]) => [k, strip(x)]),
          )
        : v;
  return JSON.stringify(strip(JSON.parse(body)));
}

function send(res: ServerResponse, outcome: Outcome, head: boolean): void {
  const body = outcome.body === null ? "" : outcome.body;
  const headers: Record<string, string | number> = { ...outcome.headers };
  if (outcome.status !== 204) headers["Content-Length"] = Buffer.byteLength(head ? "" : body);
  res.writeHead(outcome.status, headers);
  res.end(head || outcome.status === 204 ? undefined : body);
}

/** The `/rest/v1` surface of the local stack. */
export const createRestSurface: SurfaceFactory = async (ctx) =>
  createRest({ dbUrl: ctx.dbUrl, keys: ctx.keys, log: (line) => ctx.log("rest", line), rest: ctx.api });
