/**
 * GET and HEAD on a relation: one read statement (with the exact count when asked for, or the
 * planner's estimate), paged by `limit`/`offset` and the `Range` header, capped at `max_rows`;
 * `Content-Range`, 206/416, `single()`, stripped nulls and CSV as PostgREST answers them.
 */
import type { RestEngine } from "./engine.ts";
import { invalidRange, singularityError } from "./errors.ts";
import {
  applyGucs,
  contentRange,
  JSON_TYPE,
  OBJECT_TYPE,
  type Outcome,
  rangeStatus,
  shapeBody,
} from "./response.ts";
import { buildPlannedCount, buildReadStatement, checkUnusedPaths, ident, type ReadOptions } from "./sql.ts";
import type { TableRequest } from "./table.ts";

/**
 * The page a read covers: `offset`/`limit` intersected with a GET's `Range: <from>-<to>`
 * (`ApiRequest.hs getRanges`); a negative limit or reversed range is 416 PGRST103.
 */
function pageOf(request: TableRequest): { offset: number; limit: number | undefined } {
  const { root, method, req } = request;
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
  if (limit !== undefined && limit < 0) throw invalidRange("Limit should be greater than or equal to zero.");
  return { offset, limit };
}

/**
 * Serves GET or HEAD on a relation.
 *
 * @example
 * const outcome = await readRows(engine, tableRequest);
 */
export async function readRows(engine: RestEngine, request: TableRequest): Promise<Outcome> {
  const { cache: sc, table, query: q, prefs, media, applied } = request;
  const { offset, limit } = pageOf(request);
  const readOptions: ReadOptions = {
    schema: request.schema,
    fromSql: `${ident(table.schema)}.${ident(table.name)}`,
    source: request.source,
    select: q.select,
    rootConditions: true,
    limit: Math.min(limit ?? engine.maxRows, engine.maxRows),
    offset,
    exactCount: prefs.count === "exact" || prefs.count === "estimated",
    firstRowOnly: false,
    csv: media.csv === true,
  };
  const statement = buildReadStatement(sc, q.nodeParams, readOptions);
  checkUnusedPaths(q.nodeParams, statement.usedPaths);
  if (prefs.count) applied.push(`count=${prefs.count}`);
  return engine.transaction(request, true, prefs, sc, async (run) => {
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
    if (prefs.count === "estimated" && planned !== null && planned > engine.maxRows) total = planned;
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
    let body = shapeBody(row?.body ?? "[]", media);
    if (media.csv) {
      // Header from the first row's keys, then one record per line, as PostgREST's `asCsvF`.
      const first = (JSON.parse(body) as Record<string, unknown>[])[0];
      body = `${first ? Object.keys(first).join(",") : ""}\n${row?.csv_rows ?? ""}`;
      headers["Content-Type"] = "text/csv; charset=utf-8";
    }
    return applyGucs({ status, headers, body: request.method === "HEAD" ? null : body }, row);
  });
}
