/**
 * The project's `supabase/config.toml`, read as far as the local stack needs it: a small TOML
 * reader for the subset the Supabase CLI template uses, and the `[api]` settings of the Data API.
 */
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";

/** A scalar of the TOML subset read here. */
export type TomlScalar = string | boolean | number;
/** A value: a scalar or a flat array of scalars (`schemas = ["public", "roomkit"]`). */
export type TomlValue = TomlScalar | TomlScalar[];
/** Table name (`api`, `functions.hook`; `""` for keys above the first header) → its keys. */
export type TomlTables = Map<string, Record<string, TomlValue>>;

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
  return apiConfigOf(readConfigToml(path), path);
}

/** Parses one section with its schema; a bad value throws `ConfigError` naming `[section] key`. */
function section<T extends z.ZodType>(tables: TomlTables, name: string, schema: T, path: string): z.infer<T> {
  const parsed = schema.safeParse(tables.get(name) ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${path}: [${name}] ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

function apiConfigOf(tables: TomlTables, path: string): ApiConfig {
  const api = section(tables, "api", apiSection, path);
  return { schemas: api.schemas, extraSearchPath: api.extra_search_path, maxRows: api.max_rows };
}

/** The `[auth]` settings the local Auth honours (GoTrue's `GOTRUE_*` as the CLI sets them). */
export interface AuthConfig {
  /** Lifetime of access tokens in seconds (`jwt_expiry`, GOTRUE_JWT_EXP). */
  jwtExpiry: number;
  /** Whether new users may sign up (`enable_signup`; false → 422 `signup_disabled`). */
  enableSignup: boolean;
  /** `enable_anonymous_sign_ins`. */
  enableAnonymousSignIns: boolean;
  /** `enable_refresh_token_rotation`: off, a used refresh token stays valid (no reuse detection). */
  enableRefreshTokenRotation: boolean;
  /** `refresh_token_reuse_interval` in seconds. */
  refreshTokenReuseInterval: number;
  /** `minimum_password_length`. */
  minimumPasswordLength: number;
  /** `site_url`: where email links lead when no allowed `redirect_to` is given (GOTRUE_SITE_URL). */
  siteUrl: string;
  /** `additional_redirect_urls`: further `redirect_to` targets allowed (GOTRUE_URI_ALLOW_LIST, globs). */
  additionalRedirectUrls: string[];
  /** `[auth.email] otp_length`: digits of the email code (GOTRUE_MAILER_OTP_LENGTH). */
  emailOtpLength: number;
  /** `[auth.email] otp_expiry`: seconds an email code or link stays valid (GOTRUE_MAILER_OTP_EXP). */
  emailOtpExpiry: number;
}

/** The CLI template's `[auth]` values (`pkg/config/templates/config.toml`). */
export const AUTH_DEFAULTS: Readonly<AuthConfig> = {
  jwtExpiry: 3600,
  enableSignup: true,
  enableAnonymousSignIns: false,
  enableRefreshTokenRotation: true,
  refreshTokenReuseInterval: 10,
  minimumPasswordLength: 6,
  siteUrl: "http://127.0.0.1:3000",
  additionalRedirectUrls: ["https://127.0.0.1:3000"],
  emailOtpLength: 6,
  emailOtpExpiry: 3600,
};

const authSection = z.object({
  jwt_expiry: z.number().int().positive().max(604800).default(AUTH_DEFAULTS.jwtExpiry),
  enable_signup: z.boolean().default(AUTH_DEFAULTS.enableSignup),
  enable_anonymous_sign_ins: z.boolean().default(AUTH_DEFAULTS.enableAnonymousSignIns),
  enable_refresh_token_rotation: z.boolean().default(AUTH_DEFAULTS.enableRefreshTokenRotation),
  refresh_token_reuse_interval: z
    .number()
    .int()
    .nonnegative()
    .default(AUTH_DEFAULTS.refreshTokenReuseInterval),
  minimum_password_length: z.number().int().positive().default(AUTH_DEFAULTS.minimumPasswordLength),
  site_url: z.string().url().default(AUTH_DEFAULTS.siteUrl),
  additional_redirect_urls: z.array(z.string()).default(AUTH_DEFAULTS.additionalRedirectUrls),
});

/**
 * GoTrue's bounds on the email code (`internal/conf/configuration.go`): a length outside 6–10
 * falls back to 6, an expiry of 0 to a day, and no expiry exceeds a day.
 */
const OTP_LENGTH_RANGE = [6, 10] as const;
const MAX_OTP_EXPIRY_SECONDS = 86_400;

const authEmailSection = z.object({
  otp_length: z
    .number()
    .int()
    .default(AUTH_DEFAULTS.emailOtpLength)
    .transform((n) =>
      n < OTP_LENGTH_RANGE[0] || n > OTP_LENGTH_RANGE[1] ? AUTH_DEFAULTS.emailOtpLength : n,
    ),
  otp_expiry: z
    .number()
    .int()
    .nonnegative()
    .default(AUTH_DEFAULTS.emailOtpExpiry)
    .transform((n) => (n === 0 ? MAX_OTP_EXPIRY_SECONDS : Math.min(n, MAX_OTP_EXPIRY_SECONDS))),
});

/** The local inbox (`[local_smtp]`): Mailpit's web page and API. */
export interface InboxConfig {
  enabled: boolean;
  /** Port of the web page and JSON API; the CLI's default is 54324. */
  port: number;
}

export const INBOX_DEFAULTS: Readonly<InboxConfig> = { enabled: true, port: 54324 };

const inboxSection = z.object({
  enabled: z.boolean().default(INBOX_DEFAULTS.enabled),
  port: z.number().int().min(0).max(65535).default(INBOX_DEFAULTS.port),
});

/** `[db.seed]`: whether `db push --include-seed` seeds, and from which files (globs relative to `supabase/`). */
export interface SeedConfig {
  enabled: boolean;
  sqlPaths: string[];
}

const seedSection = z.object({
  enabled: z.boolean().default(true),
  sql_paths: z.array(z.string().min(1)).default(["./seed.sql"]),
});

/** What the local stack reads from a project's `supabase/config.toml`. */
export interface ProjectConfig {
  api: ApiConfig;
  auth: AuthConfig;
  inbox: InboxConfig;
  seed: SeedConfig;
}

/**
 * `[api]`, `[auth]` and `[db.seed]` of a config file, with the CLI's defaults for absent keys (a
 * missing file is all defaults); throws `ConfigError` naming the key of a value of the wrong shape.
 *
 * @example
 * readProjectConfig("supabase/config.toml").auth.jwtExpiry // 3600
 */
export function readProjectConfig(path: string): ProjectConfig {
  const tables = readConfigToml(path);
  const auth = section(tables, "auth", authSection, path);
  const authEmail = section(tables, "auth.email", authEmailSection, path);
  // The CLI the stack runs `db push` with refuses the old name too, with this message.
  if (tables.has("inbucket")) {
    throw new ConfigError(
      `${path}: [inbucket] in supabase/config.toml is no longer supported. Use [local_smtp] instead.`,
    );
  }
  const inbox = section(tables, "local_smtp", inboxSection, path);
  const seed = section(tables, "db.seed", seedSection, path);
  return {
    api: apiConfigOf(tables, path),
    auth: {
      jwtExpiry: auth.jwt_expiry,
      enableSignup: auth.enable_signup,
      enableAnonymousSignIns: auth.enable_anonymous_sign_ins,
      enableRefreshTokenRotation: auth.enable_refresh_token_rotation,
      refreshTokenReuseInterval: auth.refresh_token_reuse_interval,
      minimumPasswordLength: auth.minimum_password_length,
      siteUrl: auth.site_url,
      additionalRedirectUrls: auth.additional_redirect_urls,
      emailOtpLength: authEmail.otp_length,
      emailOtpExpiry: authEmail.otp_expiry,
    },
    inbox: { enabled: inbox.enabled, port: inbox.port },
    seed: { enabled: seed.enabled, sqlPaths: seed.sql_paths },
  };
}
