/**
 * The local stack's `/rest/v1`: a PostgREST stand-in for what postgrest-js 2.119 sends.
 * Per request, as PostgREST does (reference postgrest-auth.md §5): verify the JWT, open one
 * READ COMMITTED transaction (READ ONLY for GET/HEAD and stable functions), set the role, claims
 * and request GUCs transaction-locally, run one statement, honour `response.status/headers`.
 *
 * The modules, in the order a request meets them: `request.ts` (caller, path, profile, media,
 * query, body) → `table.ts` (→ `read.ts`, `write.ts`) or `rpc.ts` → `engine.ts` (pool, schema
 * cache, transaction as the caller) → `sql.ts` (the statement) → `response.ts` (the answer);
 * `errors.ts` holds PostgREST's error bodies, `parse.ts` its query grammar, `schema-cache.ts` the catalog.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyError, isConnectionError } from "../http.ts";
import type { StackKeys } from "../keys.ts";
import type { Surface, SurfaceFactory } from "../surface.ts";
import { RestEngine, type RestOptions } from "./engine.ts";
import { fromPgError, isPgError, RestError } from "./errors.ts";
import {
  ANON_ROLE,
  type Auth,
  authenticate,
  negotiateProfile,
  parseResource,
  type Resource,
} from "./request.ts";
import { bodyTooLarge, databaseUnavailable, errorResponse, type Outcome, send } from "./response.ts";
import { callRoutine } from "./rpc.ts";
import { handleTable } from "./table.ts";

export type { RestOptions } from "./engine.ts";
export { authenticate, negotiateProfile } from "./request.ts";

/**
 * `Allow` of an OPTIONS request. PostgREST narrows these by the table's privileges and the
 * function's volatility (`Response.hs`); the stand-in does not.
 */
const ALLOW_RELATION = "OPTIONS,GET,HEAD,POST,PATCH,DELETE";
const ALLOW_RPC = "OPTIONS,GET,HEAD,POST";

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
  const engine = new RestEngine(options);

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
    const request = {
      req,
      method,
      pathname: url.pathname,
      schema,
      name: resource.name,
      search: url.searchParams,
      auth,
    };
    return resource.kind === "relation" ? handleTable(engine, request) : callRoutine(engine, request);
  }

  /** Any failure as PostgREST's error response; unexpected ones are logged and answered 500. */
  function errorOutcome(error: unknown, auth: Auth | undefined): Outcome {
    let rest: RestError;
    if (error instanceof RestError) rest = error;
    else if (isConnectionError(error)) rest = databaseUnavailable(error);
    else if (isPgError(error)) rest = fromPgError(error, (auth?.role ?? ANON_ROLE) !== ANON_ROLE);
    else if (error instanceof BodyError) rest = bodyTooLarge();
    else {
      options.log(`unexpected error: ${(error as Error)?.stack ?? String(error)}`);
      rest = new RestError(500, "PGRSTX00", "Internal server error");
    }
    return errorResponse(rest);
  }

  /** `/`: a minimal OpenAPI document listing the schema's relations and functions. */
  async function openApi(schema: string): Promise<Outcome> {
    const sc = await engine.getCache();
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

  return {
    reload: () => engine.reload(),
    async handle(req: IncomingMessage, res: ServerResponse, path: string) {
      const method = (req.method ?? "GET").toUpperCase();
      let auth: Auth | undefined;
      let outcome: Outcome;
      try {
        // PostgREST's order: the JWT, then the path, then the schema (`App.hs`, `ApiRequest.hs`).
        auth = await authenticate(req.headers.authorization, options.keys);
        const url = new URL(path, "http://rest.local");
        const resource = parseResource(url.pathname);
        const profile = negotiateProfile(method, req, engine.schemas);
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
    close: () => engine.close(),
  };
}

/** The `/rest/v1` surface of the local stack. */
export const createRestSurface: SurfaceFactory = async (ctx) =>
  createRest({ dbUrl: ctx.dbUrl, keys: ctx.keys, log: (line) => ctx.log("rest", line), rest: ctx.api });
