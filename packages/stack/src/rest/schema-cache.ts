/**
 * What PostgREST's schema cache holds, read from pg_catalog: relations and their columns, keys,
 * foreign keys (for embedding), functions (for `/rpc`) and the API roles' own settings.
 * Reloaded on `NOTIFY pgrst, 'reload schema'` like PostgREST (`docs/references/schema_cache.rst`).
 */
import type postgres from "postgres";

export interface Column {
  name: string;
  type: string;
  nullable: boolean;
  hasDefault: boolean;
  generated: boolean;
  /**
   * The default as SQL (`pg_get_expr`, qualified), or `nextval(<sequence>)` for an identity column;
   * what `Prefer: missing=default` fills a missing key with. Null without a default.
   */
  default: string | null;
}

export interface Table {
  schema: string;
  name: string;
  /** pg_class.relkind: r table, v view, m materialized view, f foreign, p partitioned. */
  kind: string;
  columns: Map<string, Column>;
  primaryKey: string[];
  /** Column sets of the primary key and unique constraints (for one-to-one detection). */
  uniques: string[][];
  /**
   * Computed fields: functions of the exposed schemas taking this table's row type as their one
   * argument and returning a single value, selectable and filterable like columns
   * (PostgREST `docs/references/api/computed_fields.rst`). Keyed by function name.
   */
  computed: Map<string, RoutineInfo>;
}

export interface ForeignKey {
  name: string;
  schema: string;
  table: string;
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
}

export interface FunctionParam {
  name: string;
  type: string;
  hasDefault: boolean;
  variadic: boolean;
}

export interface RoutineInfo {
  schema: string;
  name: string;
  params: FunctionParam[];
  volatility: "i" | "s" | "v";
  returnsSet: boolean;
  returnType: string;
  /** Scalar (`b`, `d`, `e`, `r`, `m`), composite (`c`), pseudo (`p`: void, record, trigger). */
  returnTypeKind: string;
  /** When the return type is a table's row type: that table (columns and relationships apply). */
  returnTable?: { schema: string; name: string };
  /** Output columns when known (composite type, OUT/TABLE parameters). */
  returnColumns: string[];
}

export interface SchemaCache {
  tables: Map<string, Table>;
  foreignKeys: ForeignKey[];
  functions: Map<string, RoutineInfo[]>;
  /** Role → settings PostgREST applies per request (`pg_db_role_setting`, user-settable ones only). */
  roleSettings: Map<string, [string, string][]>;
}

export const qualified = (schema: string, name: string) => `${schema}.${name}`;

/** Code-point order, as Haskell compares `Text`. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order PostgREST keeps overloads of one function in (`Routine`'s `Ord` instance): fewer
 * parameters first, then parameter by parameter, by name and then type. It is the order
 * PGRST203 lists the candidates in.
 *
 * @example
 * [...overloads].sort(compareOverloads)
 */
export function compareOverloads(a: RoutineInfo, b: RoutineInfo): number {
  if (a.params.length !== b.params.length) return a.params.length - b.params.length;
  for (let i = 0; i < a.params.length; i++) {
    const pa = a.params[i]!;
    const pb = b.params[i]!;
    const byName = compareText(pa.name, pb.name);
    if (byName !== 0) return byName;
    const byType = compareText(pa.type, pb.type);
    if (byType !== 0) return byType;
  }
  return 0;
}

/**
 * Reads the schema cache for the given schemas.
 *
 * @example
 * const cache = await loadSchemaCache(sql, ["public"]);
 * cache.tables.get("roomkit.rooms")?.primaryKey // ["id"]
 */
export async function loadSchemaCache(sql: postgres.Sql, schemas: readonly string[]): Promise<SchemaCache> {
  return sql.begin("read only", async (tx) => {
    // With an empty search_path format_type() qualifies every type outside pg_catalog, so a type
    // name from the cache means the same type in any request's search_path (`SchemaCache.hs querySchemaCache`).
    await tx`set local search_path to ''`;
    return readCatalog(tx, schemas);
  });
}

async function readCatalog(sql: postgres.TransactionSql, schemas: readonly string[]): Promise<SchemaCache> {
  const schemaList = [...schemas];
  // An array literal: the pool runs without fetched array types, so arrays travel as text.
  const schemaArray = `{${schemaList.map((x) => `"${x.replace(/["\\]/g, "\\$&")}"`).join(",")}}`;
  const tableRows = await sql<
    { schema: string; name: string; kind: string; columns: string; uniques: string; pk: string }[]
  >`
    select n.nspname as schema, c.relname as name, c.relkind as kind,
      coalesce((
        select json_agg(json_build_object(
          'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'nullable', not a.attnotnull,
          'hasDefault', a.atthasdef or a.attidentity <> '', 'generated', a.attgenerated <> '',
          'default', case
            when a.attidentity <> '' then format('nextval(%L::regclass)',
              pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname))
            when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end) order by a.attnum)
        from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      ), '[]')::text as columns,
      coalesce((
        select json_agg(array(select a.attname from unnest(con.conkey) with ordinality k(num, ord)
          join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num order by k.ord))
        from pg_constraint con where con.conrelid = c.oid and con.contype in ('p', 'u')
      ), '[]')::text as uniques,
      coalesce((
        select json_agg(a.attname order by k.ord) from pg_constraint con
        cross join unnest(con.conkey) with ordinality k(num, ord)
        join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num
        where con.conrelid = c.oid and con.contype = 'p'
      ), '[]')::text as pk
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(${schemaArray}::text[]) and c.relkind in ('r', 'v', 'm', 'f', 'p')
      and not c.relispartition`;
  const tables = new Map<string, Table>();
  for (const row of tableRows) {
    const columns = new Map<string, Column>();
    for (const column of JSON.parse(row.columns) as Column[]) columns.set(column.name, column);
    tables.set(qualified(row.schema, row.name), {
      schema: row.schema,
      name: row.name,
      kind: row.kind,
      columns,
      primaryKey: JSON.parse(row.pk),
      uniques: JSON.parse(row.uniques),
      computed: new Map(),
    });
  }

  const fkRows = await sql<{ fk: string }[]>`
    select json_build_object('name', con.conname, 'schema', ns.nspname, 'table', cs.relname,
      'refSchema', nt.nspname, 'refTable', ct.relname,
      'columns', array(select a.attname::text from unnest(con.conkey) with ordinality k(num, ord)
        join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num order by k.ord),
      'refColumns', array(select a.attname::text from unnest(con.confkey) with ordinality k(num, ord)
        join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num order by k.ord))::text as fk
    from pg_constraint con
    join pg_class cs on cs.oid = con.conrelid join pg_namespace ns on ns.oid = cs.relnamespace
    join pg_class ct on ct.oid = con.confrelid join pg_namespace nt on nt.oid = ct.relnamespace
    where con.contype = 'f' and ns.nspname = any(${schemaArray}::text[]) and nt.nspname = any(${schemaArray}::text[])
    order by con.conname`;

  const fnRows = await sql<
    {
      schema: string;
      name: string;
      volatility: "i" | "s" | "v";
      returns_set: boolean | string;
      return_type: string;
      return_kind: string;
      return_table_schema: string | null;
      return_table_name: string | null;
      return_columns: string;
      arg_names: string | null;
      arg_modes: string | null;
      arg_types: string;
      n_defaults: string | number;
      first_arg_table: string | null;
    }[]
  >`
    select n.nspname as schema, p.proname as name, p.provolatile as volatility, p.proretset as returns_set,
      format_type(p.prorettype, null) as return_type, t.typtype as return_kind,
      rn.nspname as return_table_schema, rc.relname as return_table_name,
      to_json(array(select a.attname::text from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0
        and not a.attisdropped order by a.attnum))::text as return_columns,
      to_json(p.proargnames)::text as arg_names, to_json(p.proargmodes::text[])::text as arg_modes,
      to_json(array(select format_type(x, null) from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
        with ordinality u(x, o) order by o))::text as arg_types,
      (select tn.nspname || '.' || tc.relname from pg_type at join pg_class tc on tc.oid = at.typrelid
         join pg_namespace tn on tn.oid = tc.relnamespace
        where p.pronargs = 1 and at.oid = p.proargtypes[0]) as first_arg_table,
      p.pronargdefaults as n_defaults
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    join pg_type t on t.oid = p.prorettype
    left join pg_class rc on rc.oid = t.typrelid and rc.relkind in ('r', 'v', 'm', 'f', 'p')
    left join pg_namespace rn on rn.oid = rc.relnamespace
    where n.nspname = any(${schemaArray}::text[]) and p.prokind = 'f' and t.typname <> 'trigger'`;
  const functions = new Map<string, RoutineInfo[]>();
  for (const row of fnRows) {
    const inputs: FunctionParam[] = [];
    const outputs: string[] = [];
    const argModes = row.arg_modes ? (JSON.parse(row.arg_modes) as string[]) : null;
    const argNames = row.arg_names ? (JSON.parse(row.arg_names) as string[]) : null;
    const nDefaults = Number(row.n_defaults);
    (JSON.parse(row.arg_types) as string[]).forEach((type, i) => {
      const mode = argModes?.[i] ?? "i";
      const name = argNames?.[i] ?? "";
      if (mode === "o" || mode === "t") outputs.push(name);
      else inputs.push({ name, type, hasDefault: false, variadic: mode === "v" });
      if (mode === "b") outputs.push(name);
    });
    for (let i = inputs.length - nDefaults; i < inputs.length; i++) {
      if (i >= 0) inputs[i]!.hasDefault = true;
    }
    const routine: RoutineInfo = {
      schema: row.schema,
      name: row.name,
      params: inputs,
      volatility: row.volatility,
      // The REST pool reads every value as text: booleans arrive as `t`/`f`.
      returnsSet: row.returns_set === true || row.returns_set === "t",
      returnType: row.return_type,
      returnTypeKind: row.return_kind,
      returnColumns: outputs.length > 0 ? outputs : (JSON.parse(row.return_columns) as string[]),
    };
    if (row.return_table_schema && row.return_table_name && schemaList.includes(row.return_table_schema)) {
      routine.returnTable = { schema: row.return_table_schema, name: row.return_table_name };
    }
    const key = qualified(row.schema, row.name);
    functions.set(key, [...(functions.get(key) ?? []), routine]);
    // A computed field returns one value; a set-returning one would be a computed relationship.
    const owner = row.first_arg_table ? tables.get(row.first_arg_table) : undefined;
    if (owner && !routine.returnsSet && routine.params.length === 1) owner.computed.set(row.name, routine);
  }

  const settingRows = await sql<{ role: string; name: string; value: string }[]>`
    select r.rolname as role, split_part(cfg, '=', 1) as name, substr(cfg, strpos(cfg, '=') + 1) as value
    from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
    cross join unnest(s.setconfig) cfg
    join pg_settings ps on ps.name = split_part(cfg, '=', 1) and ps.context = 'user'
    where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))`;
  const roleSettings = new Map<string, [string, string][]>();
  for (const row of settingRows) {
    roleSettings.set(row.role, [...(roleSettings.get(row.role) ?? []), [row.name, row.value]]);
  }

  return {
    tables,
    foreignKeys: fkRows.map((row) => JSON.parse(row.fk) as ForeignKey),
    functions,
    roleSettings,
  };
}

/**
 * Similarity in [0, 1] from the Levenshtein distance; stands in for the fuzzy set PostgREST uses
 * for its "Perhaps you meant …" hints (min score 0.75 for tables and functions).
 */
export function similarity(a: string, b: string): number {
  if (a === b) return 1;
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) return 0;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return 1 - prev[n]! / Math.max(m, n);
}

/** The closest candidate scoring at least `min`, or null. */
export function closest(target: string, candidates: Iterable<string>, min = 0.75): string | null {
  let best: string | null = null;
  let bestScore = min;
  for (const candidate of candidates) {
    const score = similarity(target, candidate);
    if (score >= bestScore && candidate !== target) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}
