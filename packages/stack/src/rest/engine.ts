/**
 * What every REST request shares: the connection pool, the schema cache (loaded lazily, reloaded
 * on `NOTIFY pgrst` and when an unknown relation is asked for) and the one transaction a request
 * runs in, as the caller, with PostgREST's transaction-local settings.
 */
import postgres from "postgres";
import { actAsCaller } from "../caller.ts";
import { API_DEFAULTS, type ApiConfig } from "../config.ts";
import { isPgError, tableNotFound } from "./errors.ts";
import type { Preferences } from "./parse.ts";
import { parseCookies, type RestRequest } from "./request.ts";
import type { Outcome, StatementRow } from "./response.ts";
import { closest, loadSchemaCache, type RoutineInfo, type SchemaCache, type Table } from "./schema-cache.ts";
import { ident } from "./sql.ts";

/** Knobs of the REST surface: the `[api]` settings (CLI defaults for absent ones) and the pool size. */
export interface RestOptions extends Partial<ApiConfig> {
  /** Connections in the request pool. */
  poolSize?: number;
}

/** Unknown relations trigger a schema reload at most this often (the CLI may add tables while we run). */
const RELOAD_INTERVAL_MS = 1000;

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

/** Runs one statement of the request's transaction. */
export type RunStatement = (text: string, params: (string | null)[]) => Promise<StatementRow[]>;

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

/**
 * The pool, schema cache and transactions of one REST surface.
 *
 * @example
 * const engine = new RestEngine({ dbUrl, log: console.log });
 * const { table } = await engine.findTable("public", "todos");
 */
export class RestEngine {
  readonly schemas: readonly string[];
  readonly extraSearchPath: readonly string[];
  readonly maxRows: number;
  readonly #sql: postgres.Sql;
  readonly #log: (line: string) => void;
  #cache: Promise<SchemaCache> | null = null;
  #lastReload = 0;
  #listening: Promise<{ unlisten(): Promise<void> } | null> | null = null;

  constructor(options: { dbUrl: string; log(line: string): void; rest?: RestOptions }) {
    this.schemas = options.rest?.schemas ?? API_DEFAULTS.schemas;
    this.extraSearchPath = options.rest?.extraSearchPath ?? API_DEFAULTS.extraSearchPath;
    this.maxRows = options.rest?.maxRows ?? API_DEFAULTS.maxRows;
    this.#log = options.log;
    this.#sql = postgres(options.dbUrl, {
      max: options.rest?.poolSize ?? 10,
      fetch_types: false,
      prepare: true,
      onnotice: () => {},
      idle_timeout: 30,
      connection: { application_name: "roomkit-rest" },
      types: TEXT_TYPES as unknown as Record<string, postgres.PostgresType>,
    });
  }

  /** Reads the schema cache again (`NOTIFY pgrst, 'reload schema'`). */
  async reload(): Promise<void> {
    this.#lastReload = Date.now();
    const next = loadSchemaCache(this.#sql, this.schemas);
    await next;
    this.#cache = next;
  }

  /** The schema cache, loaded on first use (which also starts listening for `NOTIFY pgrst`). */
  getCache(): Promise<SchemaCache> {
    if (!this.#cache) {
      this.#lastReload = Date.now();
      const loading = loadSchemaCache(this.#sql, this.schemas);
      this.#cache = loading;
      loading.catch(() => {
        if (this.#cache === loading) this.#cache = null;
      });
      this.#listening ??= this.#sql
        .listen("pgrst", (payload) => {
          if (payload === "" || payload === "reload schema") {
            this.reload().catch((e) => this.#log(`schema reload failed: ${(e as Error).message}`));
          }
        })
        .catch((e) => {
          this.#log(`listen pgrst failed: ${(e as Error).message}`);
          return null;
        });
    }
    return this.#cache;
  }

  /** Reloads when an unknown relation is asked for, at most once per RELOAD_INTERVAL_MS. */
  async #reloadIfStale(): Promise<boolean> {
    if (Date.now() - this.#lastReload < RELOAD_INTERVAL_MS) return false;
    await this.reload();
    return true;
  }

  /** A relation of `schema`; 404 PGRST205 with a "Perhaps you meant" hint when there is none. */
  async findTable(schema: string, name: string): Promise<{ cache: SchemaCache; table: Table }> {
    let sc = await this.getCache();
    let table = sc.tables.get(`${schema}.${name}`);
    if (!table && (await this.#reloadIfStale())) {
      sc = await this.getCache();
      table = sc.tables.get(`${schema}.${name}`);
    }
    if (!table) {
      const names = [...sc.tables.values()].filter((t) => t.schema === schema).map((t) => t.name);
      throw tableNotFound(schema, name, closest(name, names));
    }
    return { cache: sc, table };
  }

  /** The overloads of a function of `schema` (none: an empty list). */
  async findRoutines(schema: string, name: string): Promise<{ cache: SchemaCache; routines: RoutineInfo[] }> {
    let sc = await this.getCache();
    let routines = sc.functions.get(`${schema}.${name}`);
    if (!routines && (await this.#reloadIfStale())) {
      sc = await this.getCache();
      routines = sc.functions.get(`${schema}.${name}`);
    }
    return { cache: sc, routines: routines ?? [] };
  }

  /**
   * Runs the statements of one request in one transaction (READ ONLY or READ WRITE, read
   * committed) as the caller, with PostgREST's settings; honours `Prefer: tx=rollback`.
   */
  async transaction<T>(
    request: RestRequest,
    readOnly: boolean,
    prefs: Preferences,
    sc: SchemaCache,
    work: (run: RunStatement) => Promise<T>,
  ): Promise<T> {
    const { req, auth } = request;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (k !== "cookie" && v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
    }
    // PostgREST's order (`PreQuery.hs txVarQuery`): the request's schema then `db-extra-search-path`,
    // the role's own settings, the role and claims, then the request's method, path, headers, cookies.
    const before: [string, string][] = [
      ["search_path", [request.schema, ...this.extraSearchPath].map(ident).join(", ")],
      ...(sc.roleSettings.get(auth.role) ?? []),
    ];
    const after: [string, string][] = [
      ["request.method", req.method ?? "GET"],
      ["request.path", request.pathname],
      ["request.headers", JSON.stringify(headers)],
      ["request.cookies", JSON.stringify(parseCookies(req.headers.cookie))],
    ];
    if (prefs.timezone) after.push(["timezone", prefs.timezone]);
    const mode = `isolation level read committed ${readOnly ? "read only" : "read write"}`;
    const attempt = async (prepare: boolean) =>
      (await this.#sql.begin(mode, async (tx) => {
        await actAsCaller(tx, auth, { before, after, prepare });
        const result = await work(
          async (text, params) =>
            (await tx.unsafe(text, params as never[], { prepare })) as unknown as StatementRow[],
        );
        // `Prefer: tx=rollback`: the response is built, then everything is undone (`MainTx.hs optionalRollback`).
        if (prefs.tx === "rollback") throw new RolledBack(result);
        return result;
      })) as T;
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

  async close(): Promise<void> {
    const listening = await this.#listening?.catch(() => null);
    await listening?.unlisten().catch(() => {});
    await this.#sql.end({ timeout: 5 });
  }
}
