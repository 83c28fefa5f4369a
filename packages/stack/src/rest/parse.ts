/**
 * PostgREST's URL grammar (v12–v14) for what postgrest-js sends: `select`, horizontal filters,
 * `or`/`and` trees, `order`, `limit`/`offset`, `Prefer`. Pure functions from strings to a small
 * AST; nothing here knows SQL. Grammar facts: PostgREST/postgrest `ApiRequest/QueryParams.hs`.
 */
import { parseError, RestError } from "./errors.ts";

export interface JsonStep {
  arrow: "->" | "->>";
  key: string;
}

/** A column, optionally with a JSON path (`data->a->>b`). */
export interface FieldRef {
  name: string;
  jsonPath: JsonStep[];
}

export type SelectItem =
  | { kind: "star" }
  | { kind: "field"; field: FieldRef; alias?: string; cast?: string }
  | {
      kind: "embed";
      relation: string;
      alias?: string;
      hint?: string;
      joinType?: "inner" | "left";
      spread: boolean;
      select: SelectItem[];
    };

export const OPERATORS = {
  eq: "=",
  neq: "<>",
  gt: ">",
  gte: ">=",
  lt: "<",
  lte: "<=",
  like: "like",
  ilike: "ilike",
  match: "~",
  imatch: "~*",
  isdistinct: "is distinct from",
  cs: "@>",
  cd: "<@",
  ov: "&&",
  sl: "<<",
  sr: ">>",
  nxr: "&<",
  nxl: "&>",
  adj: "-|-",
} as const;

/** Operators that accept `(any)` / `(all)` with an array value (`QueryParams.hs quantOperator`). */
const QUANTIFIABLE = new Set(["eq", "like", "ilike", "gt", "gte", "lt", "lte", "match", "imatch"]);
/** Full-text operators, optionally with a config: `fts(english).word` (`tables_views.rst`). */
export const FTS_FUNCTIONS = {
  fts: "to_tsquery",
  plfts: "plainto_tsquery",
  phfts: "phraseto_tsquery",
  wfts: "websearch_to_tsquery",
} as const;
/** Values `is` accepts, case-insensitively. */
const IS_VALUES = {
  null: "null",
  not_null: "not null",
  true: "true",
  false: "false",
  unknown: "unknown",
} as const;

export type Operation =
  | { op: keyof typeof OPERATORS; quantifier?: "any" | "all"; value: string }
  | { op: "in"; values: string[] }
  | { op: "is"; value: (typeof IS_VALUES)[keyof typeof IS_VALUES] }
  | { op: keyof typeof FTS_FUNCTIONS; config?: string; value: string };

export interface Filter {
  kind: "filter";
  field: FieldRef;
  negated: boolean;
  operation: Operation;
}

export interface LogicTree {
  kind: "logic";
  operator: "and" | "or";
  negated: boolean;
  children: Condition[];
}

export type Condition = Filter | LogicTree;

export interface OrderTerm {
  /** Set when ordering by a to-one embed's column: `rel(col).desc`. */
  relation?: string;
  field: FieldRef;
  direction?: "asc" | "desc";
  nulls?: "first" | "last";
}

/** Splits on `sep` at depth 0, outside double quotes (with `\` escapes inside them). */
export function splitTopLevel(input: string, sep = ","): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  for (let i = 0; i < input.length; i++) {
    const ch = input[i]!;
    if (quoted) {
      current += ch;
      if (ch === "\\" && i + 1 < input.length) {
        current += input[++i];
      } else if (ch === '"') quoted = false;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (ch === sep && depth === 0) {
      parts.push(current);
      current = "";
      continue;
    }
    current += ch;
  }
  if (quoted || depth !== 0)
    throw parseError(`failed to parse (${input})`, "unbalanced quotes or parentheses");
  parts.push(current);
  return parts;
}

/** `"a \"b\""` → `a "b"`; an unquoted value is returned as is. */
export function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return value;
}

/**
 * `name`, `"quoted name"`, `data->a->>b`, `data->0`.
 *
 * @example
 * parseField("data->a->>b") // { name: "data", jsonPath: [{arrow:"->",key:"a"},{arrow:"->>",key:"b"}] }
 */
export function parseField(text: string, context = text): FieldRef {
  const input = text.trim();
  let name: string;
  let rest: string;
  if (input.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\.)*)"/.exec(input);
    if (!m) throw parseError(`failed to parse field (${context})`, "unterminated quoted name");
    name = m[1]!.replace(/\\(.)/g, "$1");
    rest = input.slice(m[0].length);
  } else {
    const arrow = input.indexOf("->");
    name = arrow < 0 ? input : input.slice(0, arrow);
    rest = arrow < 0 ? "" : input.slice(arrow);
  }
  if (name === "") throw parseError(`failed to parse field (${context})`, "empty field name");
  const jsonPath: JsonStep[] = [];
  const stepRe = /^(->>|->)("(?:[^"\\]|\\.)*"|[^-]+(?:-(?!>)[^-]*)*)/;
  while (rest.length > 0) {
    const m = stepRe.exec(rest);
    if (!m) throw parseError(`failed to parse json path (${context})`, `unexpected "${rest}"`);
    jsonPath.push({ arrow: m[1] as "->" | "->>", key: unquote(m[2]!) });
    rest = rest.slice(m[0].length);
  }
  return { name, jsonPath };
}

/** The name PostgREST gives a selected JSON path without an alias: its last key. */
export function defaultFieldName(field: FieldRef): string {
  return field.jsonPath.length > 0 ? field.jsonPath[field.jsonPath.length - 1]!.key : field.name;
}

const AGGREGATES = new Set(["count", "sum", "avg", "max", "min"]);
/** PGRST123: aggregates need `db-aggregates-enabled`, which the Supabase CLI leaves off. */
const aggregatesNotAllowed = () =>
  new RestError(400, "PGRST123", "Use of aggregate functions is not allowed");

/** Splits `alias:rest` (but not the `::` of a cast). */
function splitAlias(item: string): { alias?: string; rest: string } {
  const m = /^\s*("(?:[^"\\]|\\.)*"|[^:("]+?):(?!:)/.exec(item);
  if (!m) return { rest: item };
  const paren = item.indexOf("(");
  if (paren >= 0 && paren < m[0].length) return { rest: item };
  return { alias: unquote(m[1]!.trim()), rest: item.slice(m[0].length) };
}

/**
 * Parses a `select` value.
 *
 * @example
 * parseSelect("id,owner:profiles!created_by(display_name),members:room_members(count)")
 */
export function parseSelect(value: string): SelectItem[] {
  const text = value.replace(/\s+(?=(?:[^"]*"[^"]*")*[^"]*$)/g, "");
  if (text === "") return [{ kind: "star" }];
  return splitTopLevel(text).map((raw) => parseSelectItem(raw, value));
}

function parseSelectItem(raw: string, whole: string): SelectItem {
  if (raw === "") throw parseError(`failed to parse select parameter (${whole})`, "empty select item");
  if (raw === "*") return { kind: "star" };
  let spread = false;
  let item = raw;
  if (item.startsWith("...")) {
    spread = true;
    item = item.slice(3);
  }
  const { alias, rest } = splitAlias(item);
  const paren = rest.indexOf("(");
  if (paren >= 0) {
    if (!rest.endsWith(")")) {
      // `col.sum()::int` and similar aggregate forms with a trailing cast
      if (/\.(count|sum|avg|max|min)\(\)/.test(rest) || /^count\(\)/.test(rest)) throw aggregatesNotAllowed();
      throw parseError(`failed to parse select parameter (${whole})`, `unexpected "${rest}"`);
    }
    const head = rest.slice(0, paren);
    const inner = rest.slice(paren + 1, -1);
    if (inner === "" && (head === "count" || AGGREGATES.has(head.split(".").pop() ?? ""))) {
      throw aggregatesNotAllowed();
    }
    const [relation, ...modifiers] = head.split("!");
    if (!relation) throw parseError(`failed to parse select parameter (${whole})`, "empty relation name");
    let hint: string | undefined;
    let joinType: "inner" | "left" | undefined;
    for (const modifier of modifiers) {
      if (modifier === "inner" || modifier === "left") joinType = modifier;
      else hint = modifier;
    }
    const embed: SelectItem = {
      kind: "embed",
      relation: unquote(relation),
      spread,
      select: inner === "" ? [] : splitTopLevel(inner).map((x) => parseSelectItem(x, whole)),
    };
    if (alias !== undefined) embed.alias = alias;
    if (hint !== undefined) embed.hint = hint;
    if (joinType !== undefined) embed.joinType = joinType;
    return embed;
  }
  if (spread)
    throw parseError(`failed to parse select parameter (${whole})`, "spread needs an embedded resource");
  let fieldText = rest;
  let cast: string | undefined;
  const castAt = rest.lastIndexOf("::");
  if (castAt >= 0) {
    fieldText = rest.slice(0, castAt);
    cast = rest.slice(castAt + 2);
    if (!/^[A-Za-z_][A-Za-z0-9_ ]*(\[\])?$/.test(cast)) {
      throw parseError(`failed to parse select parameter (${whole})`, `unexpected cast "${cast}"`);
    }
  }
  const field: SelectItem = { kind: "field", field: parseField(fieldText, whole) };
  if (alias !== undefined) field.alias = alias;
  if (cast !== undefined) field.cast = cast;
  return field;
}

/** Parses the list of `in.(a,b,"c,d")`. */
function parseList(text: string, whole: string): string[] {
  if (!text.startsWith("(") || !text.endsWith(")")) {
    throw parseError(`failed to parse filter (${whole})`, `unexpected "${text}" expecting "("`);
  }
  const inner = text.slice(1, -1);
  if (inner.trim() === "") return [];
  return splitTopLevel(inner).map((v) => unquote(v.trim()));
}

/**
 * Parses `[not.]op[(modifier)].value`, the right-hand side of a filter.
 *
 * @example
 * parseOperation("not.in.(1,2)") // { negated: true, operation: { op: "in", values: ["1","2"] } }
 */
export function parseOperation(
  text: string,
  options: { inLogic?: boolean } = {},
): { negated: boolean; operation: Operation } {
  let rest = text;
  let negated = false;
  if (rest.startsWith("not.")) {
    negated = true;
    rest = rest.slice(4);
  }
  const m = /^([a-z]+)(?:\(([^)]*)\))?\.([\s\S]*)$/.exec(rest);
  if (!m) throw parseError(`failed to parse filter (${text})`, `unexpected "${rest}" expecting an operator`);
  const [, op, modifier, rawValue] = m as unknown as [string, string, string | undefined, string];
  const value = options.inLogic && op !== "in" ? unquote(rawValue) : rawValue;
  if (op === "in") {
    if (modifier !== undefined) throw parseError(`failed to parse filter (${text})`, `unexpected "("`);
    return { negated, operation: { op: "in", values: parseList(rawValue, text) } };
  }
  if (op === "is") {
    const v = IS_VALUES[value.toLowerCase() as keyof typeof IS_VALUES];
    if (!v || modifier !== undefined) {
      throw parseError(
        `failed to parse filter (${text})`,
        `unexpected "${value}" expecting null or trilean value (unknown, true, false)`,
      );
    }
    return { negated, operation: { op: "is", value: v } };
  }
  if (op in FTS_FUNCTIONS) {
    const operation: Operation = { op: op as keyof typeof FTS_FUNCTIONS, value };
    if (modifier !== undefined) operation.config = modifier;
    return { negated, operation };
  }
  if (op in OPERATORS) {
    if (modifier !== undefined) {
      if ((modifier !== "any" && modifier !== "all") || !QUANTIFIABLE.has(op)) {
        throw parseError(`failed to parse filter (${text})`, `unexpected "(${modifier})"`);
      }
      return { negated, operation: { op: op as keyof typeof OPERATORS, quantifier: modifier, value } };
    }
    return { negated, operation: { op: op as keyof typeof OPERATORS, value } };
  }
  throw parseError(`failed to parse filter (${text})`, `unknown operator "${op}"`);
}

/**
 * Parses the value of `or=`/`and=`: `(a.eq.1,or(b.gt.2,c.is.null),not.and(d.eq.x,e.neq.y))`.
 */
export function parseLogic(operator: "and" | "or", negated: boolean, value: string): LogicTree {
  const text = value.trim();
  if (!text.startsWith("(") || !text.endsWith(")")) {
    throw parseError(
      `failed to parse logic tree (${value})`,
      `unexpected "${text.slice(0, 1)}" expecting "("`,
    );
  }
  const inner = text.slice(1, -1);
  const children = splitTopLevel(inner).map((part) => parseLogicItem(part.trim(), value));
  return { kind: "logic", operator, negated, children };
}

function parseLogicItem(item: string, whole: string): Condition {
  const nested = /^(not\.)?(and|or)(\([\s\S]*\))$/.exec(item);
  if (nested) return parseLogic(nested[2] as "and" | "or", nested[1] !== undefined, nested[3]!);
  const dot = findFieldEnd(item);
  if (dot < 0) throw parseError(`failed to parse logic tree (${whole})`, `unexpected "${item}"`);
  const field = parseField(item.slice(0, dot), whole);
  const { negated, operation } = parseOperation(item.slice(dot + 1), { inLogic: true });
  return { kind: "filter", field, negated, operation };
}

/** Index of the `.` that ends the field in `field.op.value` (field may be quoted or a JSON path). */
function findFieldEnd(item: string): number {
  if (item.startsWith('"')) {
    const end = item.indexOf('"', 1);
    return end < 0 ? -1 : item.indexOf(".", end);
  }
  return item.indexOf(".");
}

/**
 * Parses an `order` value: `created_at.desc.nullslast,id`, `profiles(display_name).asc`.
 */
export function parseOrder(value: string): OrderTerm[] {
  return splitTopLevel(value).map((raw) => {
    const term = raw.trim();
    let relation: string | undefined;
    let rest = term;
    const rel = /^([^().]+)\(([^)]+)\)(.*)$/.exec(term);
    if (rel) {
      relation = rel[1]!;
      rest = rel[2]! + rel[3]!;
    }
    const parts = rest.split(".");
    const modifiers: string[] = [];
    while (parts.length > 1 && /^(asc|desc|nullsfirst|nullslast)$/.test(parts[parts.length - 1]!)) {
      modifiers.unshift(parts.pop()!);
    }
    const out: OrderTerm = { field: parseField(parts.join("."), value) };
    if (relation !== undefined) out.relation = relation;
    for (const modifier of modifiers) {
      if (modifier === "asc" || modifier === "desc") out.direction = modifier;
      else out.nulls = modifier === "nullsfirst" ? "first" : "last";
    }
    return out;
  });
}

/** Parses a non-negative integer parameter such as `limit`/`offset`. */
export function parseNonNegative(name: string, value: string): number {
  if (!/^-?\d+$/.test(value)) {
    throw parseError(`failed to parse ${name} parameter (${value})`, `unexpected "${value}" expecting digit`);
  }
  return Number(value);
}

/** Preferences PostgREST understands (`ApiRequest/Preferences.hs`); the first of each group wins. */
export interface Preferences {
  return?: "representation" | "minimal" | "headers-only";
  count?: "exact" | "planned" | "estimated";
  resolution?: "merge-duplicates" | "ignore-duplicates";
  missing?: "default" | "null";
  tx?: "commit" | "rollback";
  handling?: "strict" | "lenient";
  timezone?: string;
  maxAffected?: number;
  invalid: string[];
}

const PREFERENCE_VALUES: Record<string, readonly string[]> = {
  return: ["representation", "minimal", "headers-only"],
  count: ["exact", "planned", "estimated"],
  resolution: ["merge-duplicates", "ignore-duplicates"],
  missing: ["default", "null"],
  tx: ["commit", "rollback"],
  handling: ["strict", "lenient"],
};

/**
 * Parses all `Prefer` header values (comma-joined by the client).
 *
 * @example
 * parsePrefer(["count=exact, return=representation"]) // { count: "exact", return: "representation", invalid: [] }
 */
export function parsePrefer(headers: readonly string[]): Preferences {
  const out: Preferences = { invalid: [] };
  const prefs = out as unknown as Record<string, unknown>;
  for (const raw of headers.flatMap((h) => h.split(","))) {
    const pref = raw.trim();
    if (pref === "") continue;
    const eq = pref.indexOf("=");
    const key = eq < 0 ? pref : pref.slice(0, eq);
    const value = eq < 0 ? "" : pref.slice(eq + 1);
    if (key in PREFERENCE_VALUES && PREFERENCE_VALUES[key]!.includes(value)) {
      if (prefs[key] === undefined) prefs[key] = value;
    } else if (key === "timezone" && value !== "") {
      out.timezone ??= value;
    } else if (key === "max-affected" && /^\d+$/.test(value)) {
      out.maxAffected ??= Number(value);
    } else {
      out.invalid.push(pref);
    }
  }
  return out;
}
