/**
 * POST, PATCH and DELETE on a relation. Each method builds its `pgrst_source` CTE (insert or
 * upsert, update, delete); the shared part reads the written rows back through the select when a
 * representation is asked for, enforces `single()` and `handling=strict` + `max-affected` inside
 * the transaction (so a violation undoes the write), and answers with PostgREST's statuses:
 * 201/200 for inserts and merges, 204 or 200 with the rows for updates and deletes.
 */
import type { RestEngine } from "./engine.ts";
import { invalidBody, RestError, singularityError } from "./errors.ts";
import { readJsonBody } from "./request.ts";
import { applyGucs, contentRange, JSON_TYPE, OBJECT_TYPE, type Outcome, shapeBody } from "./response.ts";
import {
  buildDeleteCte,
  buildInsertCte,
  buildReadStatement,
  buildUpdateCte,
  checkColumns,
  checkUnusedPaths,
  Params,
  ReadBuilder,
} from "./sql.ts";
import type { TableRequest } from "./table.ts";

type Returning = "rows" | "count";

/** POST: the body's object or objects, inserted, or upserted with `resolution=` (`on_conflict` or the primary key). */
async function insertCte(request: TableRequest, params: Params, returning: Returning): Promise<string> {
  const { table, query: q, prefs, applied } = request;
  const { value } = await readJsonBody(request.req);
  if (value === undefined) throw invalidBody();
  const rows = Array.isArray(value) ? value : [value];
  if (rows.some((r) => typeof r !== "object" || r === null || Array.isArray(r))) {
    throw invalidBody("All object keys must match");
  }
  const records = rows as Record<string, unknown>[];
  const columns = q.columns ?? [...new Set(records.flatMap((r) => Object.keys(r)))];
  checkColumns(table, columns);
  const conflictColumns = q.onConflict ?? table.primaryKey;
  if (q.onConflict) checkColumns(table, q.onConflict);
  const resolution = prefs.resolution;
  const onConflict =
    resolution && conflictColumns.length > 0
      ? {
          columns: conflictColumns,
          action: resolution === "merge-duplicates" ? ("merge" as const) : ("ignore" as const),
        }
      : undefined;
  if (onConflict) applied.push(`resolution=${resolution}`);
  return buildInsertCte(
    {
      table,
      rows: records,
      columns,
      missingDefault: prefs.missing === "default",
      ...(onConflict ? { onConflict } : {}),
      returning,
    },
    params,
  );
}

/** PATCH: one object applied to the filtered rows (only the `columns=` keys, when given). */
async function updateCte(request: TableRequest, params: Params, returning: Returning): Promise<string> {
  const { table, query: q } = request;
  const { value } = await readJsonBody(request.req);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidBody();
  let patch = value as Record<string, unknown>;
  if (q.columns) {
    checkColumns(table, q.columns);
    patch = Object.fromEntries(q.columns.filter((c) => Object.hasOwn(patch, c)).map((c) => [c, patch[c]]));
  }
  const builder = new ReadBuilder(request.cache, request.schema, params, q.nodeParams);
  return buildUpdateCte(builder, table, patch, request.root.conditions, returning);
}

/** DELETE: the filtered rows. */
function deleteCte(request: TableRequest, params: Params, returning: Returning): string {
  const builder = new ReadBuilder(request.cache, request.schema, params, request.query.nodeParams);
  return buildDeleteCte(builder, request.table, request.root.conditions, returning);
}

/** The one statement of a write: the CTE, then either the rows through the select or just the counts. */
function writeStatement(request: TableRequest, cte: string, params: Params, wantsRows: boolean) {
  const { method, prefs, query: q } = request;
  if (wantsRows) {
    const statement = buildReadStatement(
      request.cache,
      q.nodeParams,
      {
        schema: request.schema,
        fromSql: `"pgrst_source"`,
        withSql: cte,
        source: request.source,
        select: prefs.return === "headers-only" ? [{ kind: "star" }] : q.select,
        rootConditions: false,
        exactCount: false,
      },
      params,
    );
    if (prefs.return !== "headers-only") checkUnusedPaths(q.nodeParams, statement.usedPaths);
    const inserted =
      method === "POST"
        ? ` as total, (select count(*) filter (where "pgrst_inserted") from "pgrst_source") as inserted,`
        : " as total,";
    return { sql: statement.sql.replace(/ as total,/, inserted), params: statement.params };
  }
  const inserted = method === "POST" ? `count(*) filter (where "pgrst_inserted")` : "null::bigint";
  return {
    sql:
      `with ${cte} select null::text as body, count(*) as page_total, null::bigint as total, ${inserted} as inserted, ` +
      `nullif(current_setting('response.headers', true), '') as response_headers, ` +
      `nullif(current_setting('response.status', true), '') as response_status from "pgrst_source"`,
    params: params.values,
  };
}

/** `Location` of `return=headers-only`: the first written row by its primary key. */
function locationOf(request: TableRequest, body: string): string | undefined {
  const { table } = request;
  if (table.primaryKey.length === 0) return undefined;
  const first = (JSON.parse(body) as Record<string, unknown>[])[0];
  if (!first) return undefined;
  const query = table.primaryKey
    .map((k) => `${encodeURIComponent(k)}=eq.${encodeURIComponent(String(first[k]))}`)
    .join("&");
  return `/${table.name}?${query}`;
}

/**
 * Serves POST, PATCH or DELETE on a relation.
 *
 * @example
 * const outcome = await writeRows(engine, tableRequest);
 */
export async function writeRows(engine: RestEngine, request: TableRequest): Promise<Outcome> {
  const { method, prefs, media, applied } = request;
  const wantsRows = prefs.return === "representation" || prefs.return === "headers-only";
  const returning: Returning = wantsRows ? "rows" : "count";
  const params = new Params();
  const cte =
    method === "POST"
      ? await insertCte(request, params, returning)
      : method === "PATCH"
        ? await updateCte(request, params, returning)
        : deleteCte(request, params, returning);
  if (prefs.return) applied.push(`return=${prefs.return}`);
  if (prefs.count) applied.push(`count=${prefs.count}`);
  if (prefs.missing && method !== "DELETE") applied.push(`missing=${prefs.missing}`);
  if (prefs.handling) applied.push(`handling=${prefs.handling}`);
  if (prefs.maxAffected !== undefined && method !== "POST") applied.push(`max-affected=${prefs.maxAffected}`);
  const statement = writeStatement(request, cte, params, wantsRows);

  return engine.transaction(request, false, prefs, request.cache, async (run) => {
    const [row] = await run(statement.sql, statement.params);
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
      const location =
        prefs.return === "headers-only" && row?.body ? locationOf(request, row.body) : undefined;
      if (location) headers.Location = location;
    } else {
      status = prefs.return === "representation" ? 200 : 204;
      headers["Content-Range"] =
        method === "PATCH" ? contentRange(0, pageTotal - 1, total) : contentRange(1, 0, total);
    }
    if (applied.length > 0) headers["Preference-Applied"] = applied.join(", ");
    let body: string | null = null;
    if (prefs.return === "representation") {
      body = shapeBody(row?.body ?? "[]", media);
      headers["Content-Type"] = media.single ? OBJECT_TYPE : JSON_TYPE;
    }
    return applyGucs({ status, headers, body }, row);
  });
}
