/**
 * The project's `supabase/config.toml`, read as far as the local stack needs it: a small TOML
 * reader for the subset the Supabase CLI template uses, and the `[api]` settings of the Data API.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ROOT } from "./migrate.ts";

/** A scalar of the TOML subset read here. */
export type TomlScalar = string | boolean | number;
/** A value: a scalar or a flat array of scalars (`schemas = ["public", "roomkit"]`). */
export type TomlValue = TomlScalar | TomlScalar[];
/** Table name (`api`, `functions.hook`; `""` for keys above the first header) → its keys. */
export type TomlTables = Map<string, Record<string, TomlValue>>;

/** The repository's own config, which `npm start` and the tests use unless told otherwise. */
export const DEFAULT_CONFIG_PATH = join(ROOT, "supabase", "config.toml");

/**
 * Calls `visit` with each character outside TOML strings (basic `"…"` with backslash escapes,
 * literal `'…'`) and its index, until `visit` returns true.
 */
function scanOutsideStrings(text: string, visit: (c: string, i: number) => boolean): void {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (visit(c, i)) return;
  }
}

/** The line up to its `#` comment. */
function stripComment(line: string): string {
  let end = line.length;
  scanOutsideStrings(line, (c, i) => {
    if (c !== "#") return false;
    end = i;
    return true;
  });
  return line.slice(0, end);
}

/** Splits on `sep` outside strings: `a."b.c"` → `a`, `"b.c"`. */
function splitOutsideStrings(text: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  scanOutsideStrings(text, (c, i) => {
    if (c === sep) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    return false;
  });
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** How many more `[` than `]` the text has outside strings (> 0: a multi-line array is still open). */
function openBrackets(text: string): number {
  let depth = 0;
  scanOutsideStrings(text, (c) => {
    if (c === "[") depth++;
    else if (c === "]") depth--;
    return false;
  });
  return depth;
}

function parseString(text: string): string | undefined {
  if (/^'[^']*'$/.test(text)) return text.slice(1, -1);
  if (!/^".*"$/.test(text)) return undefined;
  try {
    // TOML basic strings escape as JSON does for everything config.toml holds.
    return JSON.parse(text) as string;
  } catch {
    return text.slice(1, -1);
  }
}

function parseScalar(text: string): TomlScalar | undefined {
  if (text === "true" || text === "false") return text === "true";
  if (/^[+-]?\d[\d_]*(\.\d+)?$/.test(text)) return Number(text.replace(/_/g, ""));
  return parseString(text);
}

/** A value, or undefined for what this reader skips (inline tables, dates, nested arrays). */
function parseValue(text: string): TomlValue | undefined {
  if (!text.startsWith("[")) return parseScalar(text);
  if (!text.endsWith("]")) return undefined;
  const items = splitOutsideStrings(text.slice(1, -1), ",").filter((item) => item !== "");
  const values = items.map(parseScalar);
  return values.every((v) => v !== undefined) ? (values as TomlScalar[]) : undefined;
}

/** `functions."my-fn"` → `functions.my-fn`. */
function tableName(header: string): string {
  return splitOutsideStrings(header, ".")
    .map((part) => parseString(part) ?? part)
    .join(".");
}

/**
 * Reads the TOML subset `supabase/config.toml` uses: `[table]` headers (dotted, quoted parts
 * allowed), `key = value` with strings, booleans, numbers and arrays of those (also spread over
 * several lines), and `#` comments. Anything else (inline tables, `[[arrays of tables]]`) is skipped.
 *
 * @example
 * parseConfigToml('[api]\nschemas = ["public", "roomkit"]').get("api") // { schemas: ["public", "roomkit"] }
 */
export function parseConfigToml(text: string): TomlTables {
  const tables: TomlTables = new Map([["", {}]]);
  let current: Record<string, TomlValue> | undefined = tables.get("");
  let pending = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = stripComment(raw).trim();
    if (pending !== "") {
      pending += ` ${line}`;
      if (openBrackets(pending) > 0) continue;
    } else {
      if (line === "") continue;
      if (line.startsWith("[[")) {
        current = undefined;
        continue;
      }
      const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
      if (header) {
        const name = tableName(header[1]!);
        current = tables.get(name) ?? {};
        tables.set(name, current);
        continue;
      }
      pending = line;
      if (openBrackets(pending) > 0) continue;
    }
    const kv = /^([A-Za-z0-9_-]+)\s*=\s*(.+)$/.exec(pending);
    pending = "";
    if (!current || !kv) continue;
    const value = parseValue(kv[2]!.trim());
    if (value !== undefined) current[kv[1]!] = value;
  }
  return tables;
}

/**
 * The tables of a config file; a missing file reads as empty (the CLI defaults apply).
 *
 * @example
 * readConfigToml(DEFAULT_CONFIG_PATH).get("api")?.port // 54321
 */
export function readConfigToml(path: string): TomlTables {
  return existsSync(path) ? parseConfigToml(readFileSync(path, "utf8")) : new Map();
}

/** The Data API settings of `[api]` (PostgREST's `db-schemas`, `db-extra-search-path`, `db-max-rows`). */
export interface ApiConfig {
  /** Exposed schemas; the first is the default profile. */
  schemas: string[];
  /** Schemas appended to every request's `search_path`. */
  extraSearchPath: string[];
  /** Most rows a read or RPC returns. */
  maxRows: number;
}

/** The Supabase CLI template's values (`pkg/config/templates/config.toml`), used for absent keys. */
export const API_DEFAULTS: Readonly<ApiConfig> = {
  schemas: ["public", "graphql_public"],
  extraSearchPath: ["public", "extensions"],
  maxRows: 1000,
};

const apiSection = z.object({
  schemas: z.array(z.string().min(1)).min(1).default(API_DEFAULTS.schemas),
  extra_search_path: z.array(z.string().min(1)).default(API_DEFAULTS.extraSearchPath),
  max_rows: z.number().int().positive().default(API_DEFAULTS.maxRows),
});

/** A config value the stack cannot use; the message names the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * `[api]` of a config file, with the CLI defaults for absent keys; throws `ConfigError` naming
 * the key when a value has the wrong shape.
 *
 * @example
 * readApiConfig("supabase/config.toml") // { schemas: ["public", "graphql_public"], extraSearchPath: ["public", "extensions"], maxRows: 1000 }
 */
export function readApiConfig(path: string): ApiConfig {
  const parsed = apiSection.safeParse(readConfigToml(path).get("api") ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${path}: [api] ${issue.path.join(".")}: ${issue.message}`);
  }
  return {
    schemas: parsed.data.schemas,
    extraSearchPath: parsed.data.extra_search_path,
    maxRows: parsed.data.max_rows,
  };
}
