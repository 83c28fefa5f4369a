/**
 * A Supabase project folder as the CLI sees it: the folder holding `supabase/`, its
 * `supabase/config.toml`, `supabase/migrations/`, seed files and functions. The local stack runs
 * any such folder; Roomkit's repository is one.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { type ProjectConfig, readProjectConfig } from "./config.ts";

export interface Project {
  /** The folder holding `supabase/` (the CLI's `--workdir`). */
  dir: string;
  /** `<dir>/supabase`. */
  supabaseDir: string;
  /** `<dir>/supabase/config.toml` (may be absent: the CLI's defaults apply). */
  configPath: string;
  /** `<dir>/supabase/migrations`. */
  migrationsDir: string;
  config: ProjectConfig;
}

/**
 * The nearest folder at or above `from` that has a `supabase/` folder, as the CLI looks for its
 * project (`internal/utils/flags/config_path.go`); undefined when there is none.
 *
 * @example
 * findProjectDir("/home/me/app/src") // "/home/me/app" when /home/me/app/supabase exists
 */
export function findProjectDir(from: string = process.cwd()): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, "supabase");
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Reads a project folder. `configPath` overrides where `config.toml` is read from.
 *
 * @example
 * const project = loadProject("/home/me/app");
 * project.config.api.schemas // ["public", "graphql_public"]
 */
export function loadProject(dir: string, configPath?: string): Project {
  const supabaseDir = join(resolve(dir), "supabase");
  const config = configPath ?? join(supabaseDir, "config.toml");
  return {
    dir: resolve(dir),
    supabaseDir,
    configPath: config,
    migrationsDir: join(supabaseDir, "migrations"),
    config: readProjectConfig(config),
  };
}

/** `*` and `?` within one path segment, `**` across segments (the subset seed globs use). */
function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

/**
 * The seed files `supabase db push --include-seed` applies: `[db.seed] sql_paths` (globs relative
 * to `supabase/`) expanded in order, each file once; none when seeding is disabled.
 *
 * @example
 * seedFiles(project) // ["/home/me/app/supabase/seed.sql"]
 */
export function seedFiles(project: Project): string[] {
  if (!project.config.seed.enabled) return [];
  const found: string[] = [];
  for (const pattern of project.config.seed.sqlPaths) {
    if (!/[*?]/.test(pattern)) {
      const path = resolve(project.supabaseDir, pattern);
      if (existsSync(path) && !found.includes(path)) found.push(path);
      continue;
    }
    const absolute = resolve(project.supabaseDir, pattern);
    const base = absolute.slice(0, absolute.search(/[*?]/)).replace(/[^/\\]*$/, "");
    const re = globToRegExp(relative(base, absolute).split(sep).join("/"));
    for (const file of walk(base).sort()) {
      if (re.test(relative(base, file).split(sep).join("/")) && !found.includes(file)) found.push(file);
    }
  }
  return found;
}
