/**
 * Requests to a relation (`/<table-or-view>`): what reads and writes share (the table, the
 * parsed query string, `Prefer`, the negotiated media type), then GET/HEAD to `read.ts` and
 * POST/PATCH/DELETE to `write.ts`. Other methods are 405 PGRST117 (PUT upserts are not served).
 */
import type { RestEngine } from "./engine.ts";
import { RestError } from "./errors.ts";
import { type Preferences, parsePrefer } from "./parse.ts";
import { readRows } from "./read.ts";
import {
  headerList,
  type Media,
  negotiate,
  parseQuery,
  type QueryParts,
  type RestRequest,
} from "./request.ts";
import type { Outcome } from "./response.ts";
import type { SchemaCache, Table } from "./schema-cache.ts";
import type { NodeParams, Source } from "./sql.ts";
import { writeRows } from "./write.ts";

/** One request to a relation, read: what `read.ts` and `write.ts` work from. */
export interface TableRequest extends RestRequest {
  cache: SchemaCache;
  table: Table;
  query: QueryParts;
  prefs: Preferences;
  media: Media;
  /** The relation as the SQL builder reads it. */
  source: Source;
  /** Filters, order and paging of the top level (`nodeParams` at path ""). */
  root: NodeParams;
  /** Values of `Preference-Applied`, in the order they are added. */
  applied: string[];
}

/**
 * Serves one request to a relation.
 *
 * @example
 * const outcome = await handleTable(engine, { req, method: "GET", pathname: "/todos", schema: "public", name: "todos", search, auth });
 */
export async function handleTable(engine: RestEngine, request: RestRequest): Promise<Outcome> {
  const { method, req } = request;
  const { cache, table } = await engine.findTable(request.schema, request.name);
  const query = parseQuery(request.search, null);
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
  const tableRequest: TableRequest = {
    ...request,
    cache,
    table,
    query,
    prefs,
    media,
    source: { name: table.name, table, columns: [] },
    root: query.nodeParams.get("")!,
    applied: [],
  };
  if (method === "GET" || method === "HEAD") return readRows(engine, tableRequest);
  if (method === "POST" || method === "PATCH" || method === "DELETE") return writeRows(engine, tableRequest);
  throw new RestError(405, "PGRST117", `Unsupported HTTP method: ${method}`);
}
