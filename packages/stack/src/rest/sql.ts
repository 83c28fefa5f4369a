/**
 * Builds the one SQL statement PostgREST would run for a request. Identifiers come from the schema
 * cache (or are checked against it) and are always quoted; every value from the request is a bind
 * parameter, so request text never becomes SQL text. Casts are restricted to `[A-Za-z0-9_ ]` names.
 */
import { columnNotFound, RestError, requiresWhere, undefinedColumn } from "./errors.ts";
import {
  type Condition,
  defaultFieldName,
  type FieldRef,
  type Filter,
  FTS_FUNCTIONS,
  OPERATORS,
  type OrderTerm,
  type SelectItem,
} from "./parse.ts";
import { closest, type ForeignKey, type RoutineInfo, type SchemaCache, type Table } from "./schema-cache.ts";

/**
 * Quotes an identifier for Postgres (doubling embedded quotes).
 *
 * @example
 * ident('my "col"') // '"my ""col"""'
 */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Collects bind parameters and hands out their `$n` placeholders. */
export class Params {
  readonly values: (string | null)[] = [];
  add(value: string | null): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Conditions, order and paging addressed to one level of the select tree (`rel.col=eq.1`, `rel.order=…`). */
export interface NodeParams {
  conditions: Condition[];
  order?: OrderTerm[];
  limit?: number;
  offset?: number;
}

/** What the builder reads from: a table (columns known) or a function result (columns maybe known). */
export interface Source {
  /** Name used in messages and as the SQL alias of the root (PostgREST aliases by the relation name). */
  name: string;
  table: Table | null;
  /** Output column names when `table` is null; empty = unknown (not validated). */
  columns: string[];
}

interface Relationship {
  target: Table;
  constraint: string;
  toOne: boolean;
  cardinality: "many-to-one" | "one-to-many" | "one-to-one" | "many-to-many";
  /** [parent column, child column] pairs (for many-to-many: [parent column, junction column]). */
  pairs: [string, string][];
  fk: ForeignKey;
  /** Many-to-many through a junction whose primary key holds both foreign keys (`SchemaCache.hs addM2MRels`). */
  junction?: { table: Table; targetFk: ForeignKey; targetPairs: [string, string][] };
}

interface Built {
  columns: string[];
  joins: string[];
  where: string[];
  orderBy: string[];
  limit?: number;
  offset?: number;
}

interface Embedded {
  lateral: string;
  toOne: boolean;
}

/** Relationship errors (`Error.hs` NoRelBetween / AmbiguousRelBetween). */
function noRelationship(
  parent: string,
  child: string,
  hint: string | undefined,
  schema: string,
  suggestion: string | null,
) {
  return new RestError(
    400,
    "PGRST200",
    `Could not find a relationship between '${parent}' and '${child}' in the schema cache`,
    `Searched for a foreign key relationship between '${parent}' and '${child}${hint ? `' using the hint '${hint}` : ""}' in the schema '${schema}', but no matches were found.`,
    suggestion ? `Perhaps you meant '${suggestion}' instead of '${child}'.` : null,
  );
}

/** Cardinalities in the order of PostgREST's `Cardinality` constructors (`O2M | M2O | O2O | M2M`). */
const CARDINALITY_ORDER = ["one-to-many", "many-to-one", "one-to-one", "many-to-many"] as const;

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order PostgREST keeps a table's relationships in (the derived `Ord` of `Relationship`, the
 * schema cache sorts them): by target schema and name, self-references last, then cardinality,
 * then constraint (for many-to-many: junction, then its two constraints) and columns.
 */
function compareRelationships(parent: Table) {
  const key = (r: Relationship): string[] => [
    r.target.schema,
    r.target.name,
    r.target === parent ? "1" : "0",
    String(CARDINALITY_ORDER.indexOf(r.cardinality)),
    ...(r.junction
      ? [r.junction.table.schema, r.junction.table.name, r.fk.name, r.junction.targetFk.name]
      : [r.constraint, JSON.stringify(r.pairs)]),
  ];
  return (a: Relationship, b: Relationship): number => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
      const c = compareText(ka[i]!, kb[i]!);
      if (c !== 0) return c;
    }
    return 0;
  };
}

/**
 * PGRST201 as PostgREST words it (`Error.hs` `AmbiguousRelBetween`, `compressedRel`, `relHint`):
 * candidates in schema-cache order; each relationship named from the parent's side, its columns
 * first (`cons using parent(cols) and target(cols)`).
 */
function ambiguousRelationship(parent: Table, child: string, candidates: Relationship[]) {
  const cols = (xs: string[]) => `(${xs.join(", ")})`;
  const rels = [...candidates].sort(compareRelationships(parent));
  return new RestError(
    300,
    "PGRST201",
    `Could not embed because more than one relationship was found for '${parent.name}' and '${child}'`,
    rels.map((r) => ({
      cardinality: r.cardinality,
      embedding: `${parent.name} with ${r.target.name}`,
      relationship: r.junction
        ? `${r.junction.table.name} using ${r.fk.name}${cols(r.fk.columns)} and ${r.junction.targetFk.name}${cols(r.junction.targetFk.columns)}`
        : `${r.constraint} using ${parent.name}${cols(r.pairs.map((p) => p[0]))} and ${r.target.name}${cols(r.pairs.map((p) => p[1]))}`,
    })),
    `Try changing '${child}' to one of the following: ${rels.map((r) => `'${r.target.name}!${r.junction ? r.junction.table.name : r.constraint}'`).join(", ")}. Find the desired relationship in the 'details' key.`,
  );
}

/**
 * Finds the foreign-key relationship an embed `name!hint(...)` means, from `parent`'s point of view.
 * Only relations of the request's `schema` can be embedded, as PostgREST keys relationships by the
 * embedded table's schema (`SchemaCache.hs`, `Plan.hs findRel`). Many-to-many goes through a table
 * whose primary key holds both foreign keys; relationships of views are not inferred.
 *
 * @example
 * resolveRelationship(cache, "public", rooms, "profiles", "created_by") // many-to-one via rooms_created_by_fkey
 */
export function resolveRelationship(
  cache: SchemaCache,
  schema: string,
  parent: Table,
  name: string,
  hint?: string,
): Relationship {
  const inRequestSchema = (fkSchema: string, table: string) =>
    fkSchema === schema ? cache.tables.get(`${fkSchema}.${table}`) : undefined;
  const candidates: Relationship[] = [];
  const isUnique = (table: Table, cols: string[]) =>
    table.uniques.some((u) => u.length === cols.length && u.every((c) => cols.includes(c)));
  for (const fk of cache.foreignKeys) {
    const matchesHint = (cols: string[]) => hint === undefined || hint === fk.name || cols.includes(hint);
    const selfReference = fk.schema === fk.refSchema && fk.table === fk.refTable;
    // A single-column foreign key can be embedded by its column name (`parent_id(*)`), to-one.
    const byColumn = fk.columns.length === 1 && name === fk.columns[0];
    if (fk.schema === parent.schema && fk.table === parent.name) {
      const target = inRequestSchema(fk.refSchema, fk.refTable);
      // On a self-referencing table the table's own name means its children (one-to-many); the
      // parent is reached by the column name.
      const byName = (name === fk.refTable && !selfReference) || name === fk.name;
      if (target && (byName || byColumn) && matchesHint(fk.columns) && !(selfReference && name === fk.name)) {
        const oneToOne = isUnique(parent, fk.columns);
        candidates.push({
          target,
          constraint: fk.name,
          toOne: true,
          cardinality: oneToOne ? "one-to-one" : "many-to-one",
          pairs: fk.columns.map((c, i) => [c, fk.refColumns[i]!]),
          fk,
        });
      }
    }
    if (fk.refSchema === parent.schema && fk.refTable === parent.name) {
      const target = inRequestSchema(fk.schema, fk.table);
      if (target && (name === fk.table || name === fk.name) && matchesHint(fk.columns)) {
        const oneToOne = isUnique(target, fk.columns);
        candidates.push({
          target,
          constraint: fk.name,
          toOne: oneToOne,
          cardinality: oneToOne ? "one-to-one" : "one-to-many",
          pairs: fk.refColumns.map((c, i) => [c, fk.columns[i]!]),
          fk,
        });
      }
    }
  }
  for (const fk of cache.foreignKeys) {
    if (fk.refSchema !== parent.schema || fk.refTable !== parent.name) continue;
    const junction = cache.tables.get(`${fk.schema}.${fk.table}`);
    if (!junction) continue;
    for (const targetFk of cache.foreignKeys) {
      if (targetFk === fk || targetFk.schema !== fk.schema || targetFk.table !== fk.table) continue;
      if (name !== targetFk.refTable) continue;
      const target = inRequestSchema(targetFk.refSchema, targetFk.refTable);
      const inPk = [...fk.columns, ...targetFk.columns].every((c) => junction.primaryKey.includes(c));
      if (!target || !inPk) continue;
      if (hint !== undefined && hint !== junction.name && hint !== fk.name && hint !== targetFk.name)
        continue;
      candidates.push({
        target,
        constraint: targetFk.name,
        toOne: false,
        cardinality: "many-to-many",
        pairs: fk.refColumns.map((c, i) => [c, fk.columns[i]!]),
        fk,
        junction: {
          table: junction,
          targetFk,
          targetPairs: targetFk.refColumns.map((c, i) => [c, targetFk.columns[i]!]),
        },
      });
    }
  }
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length > 1) throw ambiguousRelationship(parent, name, candidates);
  const related = cache.foreignKeys.flatMap((fk) => {
    const outgoing = fk.schema === parent.schema && fk.table === parent.name;
    const incoming = fk.refSchema === parent.schema && fk.refTable === parent.name;
    if (outgoing && fk.refSchema === schema) return [fk.refTable];
    if (incoming && fk.schema === schema) return [fk.table];
    return [];
  });
  throw noRelationship(parent.name, name, hint, schema, closest(name, related, 0.33));
}

/** Builds SQL for one read tree; one instance per statement. */
export class ReadBuilder {
  private counter = 0;
  readonly usedPaths = new Set<string>();

  constructor(
    private readonly cache: SchemaCache,
    /** The request's schema: embeds resolve within it. */
    private readonly schema: string,
    readonly params: Params,
    private readonly nodeParams: Map<string, NodeParams>,
  ) {}

  private next(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  private checkColumn(source: Source, column: string): void {
    if (source.table) {
      if (!source.table.columns.has(column) && !source.table.computed.has(column)) {
        throw undefinedColumn(source.name, column);
      }
    } else if (source.columns.length > 0 && !source.columns.includes(column)) {
      throw undefinedColumn(source.name, column);
    }
  }

  /** `"alias"."col"->$1::text->>$2::text` for a field. */
  fieldSql(source: Source, alias: string, field: FieldRef): string {
    this.checkColumn(source, field.name);
    const computed = source.table?.columns.has(field.name)
      ? undefined
      : source.table?.computed.get(field.name);
    // A computed field is its function applied to the row (PostgREST: `schema.fn(alias)`). The row is
    // rebuilt from the table's columns, so a mutation's CTE rows (with extra columns) fit as well.
    let sql = `${ident(alias)}.${ident(field.name)}`;
    if (computed && source.table) {
      const row = [...source.table.columns.keys()].map((c) => `${ident(alias)}.${ident(c)}`).join(", ");
      sql = `${ident(computed.schema)}.${ident(computed.name)}(row(${row})::${computed.params[0]!.type})`;
    }
    for (const step of field.jsonPath) {
      const isIndex = /^-?\d+$/.test(step.key);
      sql += `${step.arrow}${this.params.add(step.key)}::${isIndex ? "int" : "text"}`;
    }
    return sql;
  }

  private columnType(source: Source, name: string): string | undefined {
    return source.table?.columns.get(name)?.type;
  }

  /** SQL for one filter; `alias` qualifies the column. */
  filterSql(source: Source, alias: string, filter: Filter): string {
    const lhs = this.fieldSql(source, alias, filter.field);
    const operation = filter.operation;
    let sql: string;
    if (operation.op === "in") {
      sql =
        operation.values.length === 0
          ? "false"
          : `${lhs} in (${operation.values.map((v) => this.params.add(v)).join(", ")})`;
    } else if (operation.op === "is") {
      sql = `${lhs} is ${operation.value}`;
    } else if (operation.op in FTS_FUNCTIONS) {
      const fn = FTS_FUNCTIONS[operation.op as keyof typeof FTS_FUNCTIONS];
      const config =
        "config" in operation && operation.config ? `${this.params.add(operation.config)}::regconfig, ` : "";
      const isVector =
        filter.field.jsonPath.length === 0 && this.columnType(source, filter.field.name) === "tsvector";
      const vector = isVector ? lhs : `to_tsvector(${config}${lhs})`;
      sql = `${vector} @@ ${fn}(${config}${this.params.add(operation.value)})`;
    } else {
      const op = operation.op as keyof typeof OPERATORS;
      let value = operation.value;
      if (op === "like" || op === "ilike") value = value.replace(/\*/g, "%");
      const sqlOp = OPERATORS[op];
      if ("quantifier" in operation && operation.quantifier) {
        if (op === "like" || op === "ilike") value = value.replace(/\*/g, "%");
        sql = `${lhs} ${sqlOp} ${operation.quantifier}(${this.params.add(value)})`;
      } else {
        sql = `${lhs} ${sqlOp} ${this.params.add(value)}`;
      }
    }
    return filter.negated ? `not (${sql})` : sql;
  }

  conditionSql(source: Source, alias: string, condition: Condition, embeds: Map<string, Embedded>): string {
    if (condition.kind === "logic") {
      const parts = condition.children.map((c) => this.conditionSql(source, alias, c, embeds));
      const sql = `(${parts.join(condition.operator === "or" ? " or " : " and ")})`;
      return condition.negated ? `not ${sql}` : sql;
    }
    const embed = condition.field.jsonPath.length === 0 ? embeds.get(condition.field.name) : undefined;
    const isColumn = source.table?.columns.has(condition.field.name) ?? false;
    if (embed && !isColumn) {
      // `rel=is.null` / `rel=not.is.null` filter parents by whether the embed has rows.
      if (condition.operation.op !== "is" || condition.operation.value !== "null") {
        throw new RestError(
          400,
          "PGRST120",
          `Bad operator on the '${condition.field.name}' embedded resource`,
          "Only is null or not is null filters are allowed on embedded resources",
        );
      }
      return `${ident(embed.lateral)}."body" is ${condition.negated ? "not null" : "null"}`;
    }
    return this.filterSql(source, alias, condition);
  }

  private orderSql(
    source: Source,
    alias: string,
    terms: OrderTerm[],
    embeds: Map<string, Embedded>,
  ): string[] {
    return terms.map((term) => {
      let expr: string;
      if (term.relation !== undefined) {
        const embed = embeds.get(term.relation);
        if (!embed) {
          throw new RestError(
            400,
            "PGRST108",
            `'${term.relation}' is not an embedded resource in this request`,
            null,
            `Verify that '${term.relation}' is included in the 'select' query parameter.`,
          );
        }
        if (!embed.toOne) {
          throw new RestError(
            400,
            "PGRST118",
            `A related order on '${term.relation}' is not possible`,
            `'${source.name}' and '${term.relation}' do not form a many-to-one or one-to-one relationship`,
          );
        }
        expr = `(${ident(embed.lateral)}."body"::jsonb->${this.params.add(term.field.name)}::text)`;
      } else {
        expr = this.fieldSql(source, alias, term.field);
      }
      let sql = expr;
      if (term.direction) sql += ` ${term.direction}`;
      if (term.nulls) sql += ` nulls ${term.nulls}`;
      return sql;
    });
  }

  /**
   * Compiles one level: its select list, lateral joins for embeds, and (unless `skipConditions`)
   * its filters and order.
   */
  build(source: Source, alias: string, select: SelectItem[], path: string[], skipConditions = false): Built {
    const key = path.join(".");
    const node = this.nodeParams.get(key);
    if (node) this.usedPaths.add(key);
    const out: Built = { columns: [], joins: [], where: [], orderBy: [] };
    const embeds = new Map<string, Embedded>();
    for (const item of select) {
      if (item.kind === "star") {
        if (source.table) {
          for (const column of source.table.columns.keys()) {
            out.columns.push(`${ident(alias)}.${ident(column)}`);
          }
        } else if (source.columns.length > 0) {
          for (const column of source.columns) out.columns.push(`${ident(alias)}.${ident(column)}`);
        } else {
          out.columns.push(`${ident(alias)}.*`);
        }
      } else if (item.kind === "field") {
        let sql = this.fieldSql(source, alias, item.field);
        if (item.cast) sql = `cast(${sql} as ${item.cast})`;
        out.columns.push(`${sql} as ${ident(item.alias ?? defaultFieldName(item.field))}`);
      } else {
        this.embed(source, alias, item, path, out, embeds);
      }
    }
    if (!skipConditions && node) {
      for (const condition of node.conditions)
        out.where.push(this.conditionSql(source, alias, condition, embeds));
      if (node.order) out.orderBy = this.orderSql(source, alias, node.order, embeds);
    }
    if (node?.limit !== undefined) out.limit = node.limit;
    if (node?.offset !== undefined) out.offset = node.offset;
    // Parent-level `rel=is.null` filters also live in `node.conditions`; handled above via `embeds`.
    return out;
  }

  private embed(
    source: Source,
    parentAlias: string,
    item: Extract<SelectItem, { kind: "embed" }>,
    path: string[],
    out: Built,
    embeds: Map<string, Embedded>,
  ): void {
    if (!source.table) {
      throw noRelationship(source.name, item.relation, item.hint, this.schema, null);
    }
    const rel = resolveRelationship(this.cache, this.schema, source.table, item.relation, item.hint);
    const name = item.alias ?? item.relation;
    if (embeds.has(name) && !item.spread) {
      // PostgREST names each embed's subquery after it, so Postgres refuses the second one (42712).
      throw new RestError(400, "42712", `table name "${name}" specified more than once`);
    }
    const childAlias = this.next(rel.target.name);
    const lateral = this.next("pgrst");
    const childSource: Source = { name: rel.target.name, table: rel.target, columns: [] };
    const first = item.select[0];
    // `rel(count)`: PostgreSQL reads `rel.count` as `count(rel)`; PostgREST keeps this column-style count.
    const isCount =
      item.select.length === 1 &&
      first?.kind === "field" &&
      first.field.name === "count" &&
      first.field.jsonPath.length === 0 &&
      !rel.target.columns.has("count");
    const child = this.build(childSource, childAlias, isCount ? [] : item.select, [...path, name]);
    const join = rel.pairs.map(
      ([p, c]) => `${ident(childAlias)}.${ident(c)} = ${ident(parentAlias)}.${ident(p)}`,
    );
    const columns = isCount
      ? `count(*) as ${ident(first.alias ?? "count")}`
      : child.columns.length > 0
        ? child.columns.join(", ")
        : // `rel()`: embedded only to filter on; a placeholder column keeps the body non-null when rows exist.
          "1 as pgrst_exists";
    let inner = `select ${columns} from ${ident(rel.target.schema)}.${ident(rel.target.name)} as ${ident(childAlias)}`;
    let conditions = join;
    if (rel.junction) {
      const jn = this.next("pgrst_jn");
      const on = rel.junction.targetPairs.map(
        ([t, j]) => `${ident(jn)}.${ident(j)} = ${ident(childAlias)}.${ident(t)}`,
      );
      inner += ` join ${ident(rel.junction.table.schema)}.${ident(rel.junction.table.name)} as ${ident(jn)} on ${on.join(" and ")}`;
      conditions = rel.pairs.map(([p, j]) => `${ident(jn)}.${ident(j)} = ${ident(parentAlias)}.${ident(p)}`);
    }
    if (child.joins.length > 0) inner += ` ${child.joins.join(" ")}`;
    inner += ` where ${[...conditions, ...child.where].join(" and ")}`;
    if (!isCount) {
      if (child.orderBy.length > 0) inner += ` order by ${child.orderBy.join(", ")}`;
      if (child.limit !== undefined) inner += ` limit ${this.params.add(String(child.limit))}::bigint`;
      if (child.offset !== undefined) inner += ` offset ${this.params.add(String(child.offset))}::bigint`;
    }
    // `rel(count)` keeps the relationship's shape: `{"count": n}` for to-one, `[{"count": n}]` for to-many.
    const toOne = rel.toOne;
    const agg = toOne ? `row_to_json("pgrst_row")` : `json_agg("pgrst_row")`;
    out.joins.push(
      `left join lateral (select ${agg} as "body" from (${inner}) as "pgrst_row") as ${ident(lateral)} on true`,
    );
    embeds.set(name, { lateral, toOne });
    if (item.spread) {
      if (!toOne) {
        throw new RestError(
          400,
          "PGRST127",
          "Feature not implemented",
          "Spreading a to-many relationship is not supported by the local stack",
        );
      }
      for (const column of item.select) {
        if (column.kind === "star") {
          for (const c of rel.target.columns.keys()) {
            out.columns.push(`${ident(lateral)}."body"->${this.params.add(c)}::text as ${ident(c)}`);
          }
        } else if (column.kind === "field") {
          const n = column.alias ?? defaultFieldName(column.field);
          out.columns.push(`${ident(lateral)}."body"->${this.params.add(n)}::text as ${ident(n)}`);
        }
      }
    } else if (item.select.length > 0) {
      out.columns.push(
        toOne
          ? `${ident(lateral)}."body" as ${ident(name)}`
          : `coalesce(${ident(lateral)}."body", '[]') as ${ident(name)}`,
      );
    }
    if (item.joinType === "inner") out.where.push(`${ident(lateral)}."body" is not null`);
  }
}

/** Checks that every `rel.x` query parameter addressed an embed of this request (PGRST108). */
export function checkUnusedPaths(nodeParams: Map<string, NodeParams>, used: Set<string>): void {
  for (const key of nodeParams.keys()) {
    if (key !== "" && !used.has(key)) {
      const name = key.split(".").pop()!;
      throw new RestError(
        400,
        "PGRST108",
        `'${name}' is not an embedded resource in this request`,
        null,
        `Verify that '${name}' is included in the 'select' query parameter.`,
      );
    }
  }
}

export interface ReadStatement {
  sql: string;
  params: (string | null)[];
}

export interface ReadOptions {
  /** The request's schema (`Accept-Profile`/`Content-Profile`): embeds resolve within it. */
  schema: string;
  /** SQL for the FROM item, e.g. `"public"."rooms"` or a CTE name. */
  fromSql: string;
  /** CTEs placed before the select (mutations, function calls). */
  withSql?: string;
  source: Source;
  select: SelectItem[];
  /** Apply root filters/order here (reads) or not (already applied by a mutation). */
  rootConditions: boolean;
  limit?: number;
  offset?: number;
  exactCount: boolean;
  /** Body is the JSON value of the first row (`null` if none) instead of an array. */
  firstRowOnly?: boolean;
  /** Also return `csv_rows`: each row's record text without its parentheses (`SqlFragment.hs asCsvF`). */
  csv?: boolean;
}

/**
 * The read/return statement: one row with `body` (JSON text), `page_total`, `total`, and the
 * `response.status`/`response.headers` GUCs read after everything ran (as PostgREST does).
 *
 * @example
 * const { sql, params } = buildReadStatement(cache, nodeParams, {
 *   schema: "public", fromSql: '"public"."rooms"', source: { name: "rooms", table, columns: [] },
 *   select: parseSelect("id,name"), rootConditions: true, limit: 1000, exactCount: false,
 * });
 */
export function buildReadStatement(
  cache: SchemaCache,
  nodeParams: Map<string, NodeParams>,
  options: ReadOptions,
  params = new Params(),
): ReadStatement & { usedPaths: Set<string> } {
  const builder = new ReadBuilder(cache, options.schema, params, nodeParams);
  const alias = options.source.name;
  const built = builder.build(options.source, alias, options.select, [], !options.rootConditions);
  let from = `${options.fromSql} as ${ident(alias)}`;
  if (built.joins.length > 0) from += ` ${built.joins.join(" ")}`;
  const where = built.where.length > 0 ? ` where ${built.where.join(" and ")}` : "";
  let inner = `select ${built.columns.length > 0 ? built.columns.join(", ") : ""} from ${from}${where}`;
  if (built.orderBy.length > 0) inner += ` order by ${built.orderBy.join(", ")}`;
  if (options.limit !== undefined) inner += ` limit ${params.add(String(options.limit))}::bigint`;
  if (options.offset !== undefined && options.offset > 0) {
    inner += ` offset ${params.add(String(options.offset))}::bigint`;
  }
  const total = options.exactCount ? `(select count(*) from ${from}${where})` : "null::bigint";
  const body = options.firstRowOnly
    ? `coalesce(json_agg("pgrst_t")->0, 'null')::text`
    : `coalesce(json_agg("pgrst_t"), '[]')::text`;
  const sql =
    `${options.withSql ? `with ${options.withSql} ` : ""}select ${body} as body, count("pgrst_t") as page_total, ` +
    `${total} as total, ${options.csv ? `coalesce(string_agg(substring("pgrst_t"::text, 2, length("pgrst_t"::text) - 2), E'\\n'), '') as csv_rows, ` : ""}` +
    `nullif(current_setting('response.headers', true), '') as response_headers, ` +
    `nullif(current_setting('response.status', true), '') as response_status from (${inner}) as "pgrst_t"`;
  return { sql, params: params.values, usedPaths: builder.usedPaths };
}

/** `explain` statement whose top row estimate is the `count=planned` total. */
export function buildPlannedCount(
  cache: SchemaCache,
  nodeParams: Map<string, NodeParams>,
  options: ReadOptions,
): ReadStatement {
  const params = new Params();
  const builder = new ReadBuilder(cache, options.schema, params, nodeParams);
  const alias = options.source.name;
  const built = builder.build(options.source, alias, options.select, [], !options.rootConditions);
  let from = `${options.fromSql} as ${ident(alias)}`;
  if (built.joins.length > 0) from += ` ${built.joins.join(" ")}`;
  const where = built.where.length > 0 ? ` where ${built.where.join(" and ")}` : "";
  return {
    sql: `${options.withSql ? `with ${options.withSql} ` : ""}explain (format json) select 1 from ${from}${where}`,
    params: params.values,
  };
}

/** Writes addressed to one table. */
export interface InsertSpec {
  table: Table;
  rows: Record<string, unknown>[];
  /** Columns to write (the `columns` parameter, or the keys of the body). */
  columns: string[];
  missingDefault: boolean;
  onConflict?: { columns: string[]; action: "merge" | "ignore" };
  returning: "rows" | "count";
}

const tableSql = (table: Table) => `${ident(table.schema)}.${ident(table.name)}`;

/** Validates body/`columns` keys against the table (PGRST204). */
export function checkColumns(table: Table, columns: string[]): void {
  for (const column of columns) {
    if (!table.columns.has(column)) throw columnNotFound(table.name, column);
  }
}

/**
 * The `pgrst_source` CTE of an insert/upsert. Rows are converted by `json_populate_recordset`,
 * so JSON values take the column types exactly as Postgres casts them.
 *
 * @example
 * const cte = buildInsertCte({ table, rows: [{ name: "x" }], columns: ["name"], missingDefault: false, returning: "count" }, params);
 */
export function buildInsertCte(spec: InsertSpec, params: Params): string {
  const t = tableSql(spec.table);
  const alias = ident(spec.table.name);
  const returning =
    spec.returning === "rows"
      ? spec.onConflict?.action === "merge"
        ? `returning ${alias}.*, (${alias}.xmax = 0) as "pgrst_inserted"`
        : `returning ${alias}.*, true as "pgrst_inserted"`
      : spec.onConflict?.action === "merge"
        ? `returning (${alias}.xmax = 0) as "pgrst_inserted"`
        : `returning true as "pgrst_inserted"`;
  const conflict = (columns: string[]) => {
    if (!spec.onConflict) return "";
    const target = `on conflict (${spec.onConflict.columns.map(ident).join(", ")})`;
    if (spec.onConflict.action === "ignore" || columns.length === 0) return ` ${target} do nothing`;
    return ` ${target} do update set ${columns.map((c) => `${ident(c)} = excluded.${ident(c)}`).join(", ")}`;
  };
  const insert = (columns: string[], rows: unknown[]) => {
    const body = `${params.add(JSON.stringify(rows))}::json`;
    const list = columns.map(ident).join(", ");
    const into = columns.length > 0 ? `${t} as ${alias} (${list})` : `${t} as ${alias}`;
    const source = spec.missingDefault ? withDefaults(spec.table, columns, body, params) : body;
    return `insert into ${into} select ${list} from json_populate_recordset(null::${t}, ${source})${conflict(columns)} ${returning}`;
  };
  return `"pgrst_source" as (${insert(spec.columns, spec.rows)})`;
}

/**
 * `Prefer: missing=default` as PostgREST's `fromJsonBodyF` does it: each row is laid over an object
 * of the columns' defaults (`defaults || row`), so a missing key takes its default, on insert and,
 * through `excluded`, on an upsert's update alike. Defaults are evaluated for every row, so an
 * identity or serial column draws a sequence value even where the row gives one.
 */
function withDefaults(table: Table, columns: string[], body: string, params: Params): string {
  const defaults = columns.flatMap((c) => {
    const expr = table.columns.get(c)?.default;
    return expr ? [`${params.add(c)}::text, ${expr}`] : [];
  });
  if (defaults.length === 0) return body;
  return `(select coalesce(jsonb_agg(jsonb_build_object(${defaults.join(", ")}) || pgrst_elem), '[]')
    from jsonb_array_elements(${body}::jsonb) as pgrst_elem)::json`;
}

/** The `pgrst_source` CTE of a PATCH. */
export function buildUpdateCte(
  builder: ReadBuilder,
  table: Table,
  body: Record<string, unknown>,
  conditions: Condition[],
  returning: "rows" | "count",
): string {
  const t = tableSql(table);
  const alias = ident(table.name);
  const source: Source = { name: table.name, table, columns: [] };
  const columns = Object.keys(body);
  checkColumns(table, columns);
  if (conditions.length === 0) throw requiresWhere("UPDATE");
  const where = conditions.map((c) => builder.conditionSql(source, table.name, c, new Map())).join(" and ");
  const ret = returning === "rows" ? `${alias}.*` : "1";
  if (columns.length === 0) return `"pgrst_source" as (select ${alias}.* from ${t} as ${alias} where false)`;
  const bodyParam = builder.params.add(JSON.stringify(body));
  const sets = columns.map((c) => `${ident(c)} = "pgrst_body".${ident(c)}`).join(", ");
  return (
    `"pgrst_source" as (update ${t} as ${alias} set ${sets} ` +
    `from (select * from json_populate_record(null::${t}, ${bodyParam}::json)) as "pgrst_body" ` +
    `where ${where} returning ${ret})`
  );
}

/** The `pgrst_source` CTE of a DELETE. */
export function buildDeleteCte(
  builder: ReadBuilder,
  table: Table,
  conditions: Condition[],
  returning: "rows" | "count",
): string {
  const alias = ident(table.name);
  const source: Source = { name: table.name, table, columns: [] };
  if (conditions.length === 0) throw requiresWhere("DELETE");
  const where = conditions.map((c) => builder.conditionSql(source, table.name, c, new Map())).join(" and ");
  return `"pgrst_source" as (delete from ${tableSql(table)} as ${alias} where ${where} returning ${returning === "rows" ? `${alias}.*` : "1"})`;
}

/** How a function is called: named arguments from a JSON object or query string, or one JSON body. */
export type CallArgs =
  | { kind: "json-object"; body: Record<string, unknown> }
  | { kind: "query"; values: Record<string, string> }
  | { kind: "single-json"; body: string };

/**
 * The `pgrst_call` CTE: the function's rows (scalar results in a column named `pgrst_scalar`).
 */
export function buildCallCte(routine: RoutineInfo, args: CallArgs, params: Params): string {
  const fn = `${ident(routine.schema)}.${ident(routine.name)}`;
  const scalar = routine.returnTypeKind !== "c" && routine.returnColumns.length === 0;
  const alias = scalar ? `"pgrst_fn"("pgrst_scalar")` : `"pgrst_fn"`;
  if (args.kind === "single-json") {
    const type = routine.params[0]!.type === "jsonb" ? "jsonb" : "json";
    return `"pgrst_call" as materialized (select "pgrst_fn".* from ${fn}(${params.add(args.body)}::${type}) as ${alias})`;
  }
  if (args.kind === "query") {
    const list = routine.params
      .filter((p) => Object.hasOwn(args.values, p.name))
      .map(
        (p) =>
          `${p.variadic ? "variadic " : ""}${ident(p.name)} := ${params.add(args.values[p.name]!)}::${p.type}`,
      );
    return `"pgrst_call" as materialized (select "pgrst_fn".* from ${fn}(${list.join(", ")}) as ${alias})`;
  }
  const provided = routine.params.filter((p) => Object.hasOwn(args.body, p.name));
  if (provided.length === 0) {
    return `"pgrst_call" as materialized (select "pgrst_fn".* from ${fn}() as ${alias})`;
  }
  const record = provided.map((p) => `${ident(p.name)} ${p.type}`).join(", ");
  const call = provided
    .map((p) => `${p.variadic ? "variadic " : ""}${ident(p.name)} := "pgrst_args".${ident(p.name)}`)
    .join(", ");
  const body = params.add(JSON.stringify(args.body));
  return (
    `"pgrst_call" as materialized (select "pgrst_fn".* from json_to_record(${body}::json) as "pgrst_args"(${record}) ` +
    `cross join lateral ${fn}(${call}) as ${alias})`
  );
}
