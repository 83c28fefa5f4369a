/**
 * `/rpc/<fn>`: choosing the overload by argument names (or the single unnamed json/jsonb
 * parameter taking the whole POST body), calling it in a read-only transaction unless it is a
 * VOLATILE function called by POST, and shaping the result as PostgREST does: a bare value for
 * scalars, 204 for void, rows (filterable, pageable, embeddable) for sets and composites.
 * PGRST202/PGRST203 carry PostgREST's wording.
 */
import type { RestEngine } from "./engine.ts";
import { invalidRange, RestError, singularityError } from "./errors.ts";
import { parsePrefer } from "./parse.ts";
import { headerList, negotiate, parseQuery, type RestRequest, readJsonBody } from "./request.ts";
import {
  applyGucs,
  contentRange,
  JSON_TYPE,
  OBJECT_TYPE,
  type Outcome,
  rangeStatus,
  shapeBody,
} from "./response.ts";
import { closest, compareOverloads, type RoutineInfo, type SchemaCache } from "./schema-cache.ts";
import {
  buildCallCte,
  buildReadStatement,
  type CallArgs,
  checkUnusedPaths,
  Params,
  type Source,
} from "./sql.ts";

/**
 * Serves GET, HEAD or POST on `/rpc/<fn>` (other methods: 405 PGRST101).
 *
 * @example
 * const outcome = await callRoutine(engine, { req, method: "POST", pathname: "/rpc/add", schema: "public", name: "add", search, auth });
 */
export async function callRoutine(engine: RestEngine, request: RestRequest): Promise<Outcome> {
  const { req, method, schema, name } = request;
  if (method !== "GET" && method !== "HEAD" && method !== "POST") {
    throw new RestError(405, "PGRST101", `Cannot use the ${method} method on RPC`);
  }
  const { cache: sc, routines } = await engine.findRoutines(schema, name);
  const paramNames = new Set(routines.flatMap((r) => r.params.map((p) => p.name)));
  const q = parseQuery(request.search, method === "POST" ? null : paramNames);
  const prefs = parsePrefer(headerList(req.headers.prefer));
  const media = negotiate(req.headers.accept);

  let args: CallArgs;
  let argNames: string[];
  let rawBody = "";
  let bodyValue: unknown = {};
  if (method === "POST") {
    const read = await readJsonBody(req);
    rawBody = read.raw;
    if (read.value !== undefined) bodyValue = read.value;
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
        limit: Math.min(root.limit ?? engine.maxRows, engine.maxRows),
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
  return engine.transaction(request, readOnly, prefs, sc, async (run) => {
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
    const body = shapeBody(row?.body ?? "null", media, media.single && routine.returnsSet);
    return applyGucs({ status, headers, body: method === "HEAD" ? null : body }, row);
  });
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
