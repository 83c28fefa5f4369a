import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parseConfigToml, type TomlValue } from "../config.ts";

/** A function the local runtime serves. */
export interface FunctionConfig {
  name: string;
  /** Absolute path of the entrypoint module. */
  entrypoint: string;
  /** Require a valid JWT in `Authorization` (`[functions.<name>] verify_jwt`, default true). */
  verifyJwt: boolean;
  /** Absolute path of its `deno.json(c)` or import map, if any (see `importMapFor`). */
  importMap?: string;
}

/** Function slugs the Supabase CLI accepts (CLI `internal/utils/misc.go FuncSlugPattern`). */
export const FUNCTION_SLUG = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * The `[functions.<name>]` tables of `supabase/config.toml`, by function name.
 *
 * @example
 * readFunctionSections('[functions.hook]\nverify_jwt = false').get("hook") // { verify_jwt: false }
 */
export function readFunctionSections(configToml: string): Map<string, Record<string, TomlValue>> {
  const sections = new Map<string, Record<string, TomlValue>>();
  for (const [table, keys] of parseConfigToml(configToml)) {
    const name = /^functions\.(.+)$/.exec(table)?.[1];
    if (name !== undefined) sections.set(name, keys);
  }
  return sections;
}

/**
 * The import map of a function in the CLI's order: `[functions.<name>] import_map` (relative to
 * `supabase/`), else `deno.json`, `deno.jsonc` or `import_map.json` next to its entrypoint, else
 * `supabase/functions/import_map.json`.
 */
function importMapFor(
  supabaseDir: string,
  entrypoint: string,
  configured: TomlValue | undefined,
): string | undefined {
  if (typeof configured === "string" && configured !== "") {
    return isAbsolute(configured) ? configured : resolve(supabaseDir, configured);
  }
  const candidates = ["deno.json", "deno.jsonc", "import_map.json"].map((f) => join(dirname(entrypoint), f));
  candidates.push(join(supabaseDir, "functions", "import_map.json"));
  return candidates.find((path) => existsSync(path));
}

/**
 * The functions of a project as `supabase functions serve` finds them: every
 * `supabase/functions/<slug>/index.ts` plus every `[functions.<slug>]` with an `entrypoint`
 * (relative to `supabase/`), minus `enabled = false`; `verify_jwt` and `import_map` from the same table.
 *
 * @example
 * const fns = discoverFunctions("/home/me/app"); // [{ name: "hello", entrypoint: "/home/me/app/supabase/functions/hello/index.ts", verifyJwt: true }]
 */
export function discoverFunctions(projectDir: string, configPath?: string): FunctionConfig[] {
  const supabaseDir = join(projectDir, "supabase");
  const config = configPath ?? join(supabaseDir, "config.toml");
  const sections = existsSync(config) ? readFunctionSections(readFileSync(config, "utf8")) : new Map();
  const found = new Map<string, FunctionConfig>();
  const dir = join(supabaseDir, "functions");
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      const entrypoint = join(dir, name, "index.ts");
      if (!FUNCTION_SLUG.test(name) || !existsSync(entrypoint)) continue;
      if (!statSync(join(dir, name)).isDirectory()) continue;
      found.set(name, { name, entrypoint, verifyJwt: true });
    }
  }
  for (const [name, section] of sections) {
    if (!FUNCTION_SLUG.test(name)) continue;
    const entry = section.entrypoint;
    if (typeof entry === "string") {
      const entrypoint = isAbsolute(entry) ? entry : resolve(supabaseDir, entry);
      if (existsSync(entrypoint)) found.set(name, { name, entrypoint, verifyJwt: true });
    }
    const fn = found.get(name);
    if (!fn) continue;
    if (section.enabled === false) found.delete(name);
    else if (typeof section.verify_jwt === "boolean") fn.verifyJwt = section.verify_jwt;
  }
  for (const fn of found.values()) {
    const importMap = importMapFor(supabaseDir, fn.entrypoint, sections.get(fn.name)?.import_map);
    if (importMap) fn.importMap = importMap;
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Secrets from a dotenv file (`KEY=value`, optional quotes, `#` comments), as
 * `supabase functions serve --env-file` reads them. A missing file gives `{}`.
 */
export function readEnvFile(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const env: Record<string, string> = {};
  for (const raw of readFileSync(path, "utf8").split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    if (/^"(.*)"$/.test(value)) value = value.slice(1, -1).replace(/\\n/g, "\n").replace(/\\"/g, '"');
    else if (/^'(.*)'$/.test(value)) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, "");
    env[m[1]!] = value;
  }
  return env;
}
