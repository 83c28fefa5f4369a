import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { PLATFORM_SQL_DIR, supabaseCli } from "./paths.ts";
import { loadProject, type Project, seedFiles } from "./project.ts";

const run = promisify(execFile);
const PLATFORM_MARKER = "roomkit-local-platform";
/** Migration file names the CLI applies (`pkg/migration/file.go`). */
const MIGRATION_FILE = /^([0-9]+)_(.*)\.sql$/;

/**
 * Applies the stack's `sql/platform/*.sql` (what hosted Supabase already has) unless the database
 * is already a Supabase one: `auth.users` exists but was not created by us. Returns whether it ran.
 *
 * @example
 * await applyPlatform(dbUrl); // "applied"
 */
export async function applyPlatform(dbUrl: string): Promise<"applied" | "supabase"> {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const [state] = await sql<{ has_auth: boolean; ours: boolean }[]>`
      select to_regclass('auth.users') is not null as has_auth,
             coalesce(obj_description(to_regnamespace('_roomkit'), 'pg_namespace') like ${`${PLATFORM_MARKER}%`}, false) as ours`;
    if (state?.has_auth && !state.ours) return "supabase";
    const files = (await readdir(PLATFORM_SQL_DIR)).filter((f) => f.endsWith(".sql")).sort();
    for (const file of files) {
      await sql.unsafe(await readFile(join(PLATFORM_SQL_DIR, file), "utf8"));
    }
    return "applied";
  } finally {
    await sql.end();
  }
}

/**
 * Applies a project's `supabase/migrations` (and its `[db.seed]` files when `seed`) with the real
 * Supabase CLI, exactly as a deploy does: `supabase db push --remote=<url> --yes [--include-seed]`
 * with the project folder as `--workdir`.
 *
 * @example
 * await applyMigrations(dbUrl, { projectDir: "/home/me/app", seed: true });
 */
export async function applyMigrations(
  dbUrl: string,
  options: { projectDir: string; seed?: boolean },
): Promise<void> {
  const args = [supabaseCli(), "db", "push", `--remote=${dbUrl}`, "--yes", "--workdir", options.projectDir];
  if (options.seed) args.push("--include-seed");
  try {
    await run(process.execPath, args, {
      cwd: options.projectDir,
      env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    const output = (e.stderr || e.stdout || e.message).trim().split("\n");
    const detail =
      output
        .filter((l) => /ERROR|error|failed/.test(l))
        .slice(0, 3)
        .join(" | ") || output.slice(-5).join("\n");
    throw new Error(`supabase db push failed: ${detail}`);
  }
}

/**
 * Whether `supabase db push` has anything to do: a migration file not yet recorded in
 * `supabase_migrations.schema_migrations`, or a seed file whose hash is not in `seed_files`.
 * Skipping the CLI when nothing changed keeps warm starts fast.
 *
 * @example
 * if (await migrationsPending(dbUrl, project)) await applyMigrations(dbUrl, { projectDir: project.dir, seed: true });
 */
export async function migrationsPending(dbUrl: string, project: Project): Promise<boolean> {
  const files = existsSync(project.migrationsDir)
    ? (await readdir(project.migrationsDir)).filter((f) => MIGRATION_FILE.test(f))
    : [];
  const versions = files.map((f) => f.match(MIGRATION_FILE)![1]!);
  const seeds = seedFiles(project);
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const [state] = await sql<{ migrations: boolean; seeds: boolean }[]>`
      select to_regclass('supabase_migrations.schema_migrations') is not null as migrations,
             to_regclass('supabase_migrations.seed_files') is not null as seeds`;
    if (!state?.migrations) return versions.length > 0 || seeds.length > 0;
    const applied = new Set(
      (await sql`select version from supabase_migrations.schema_migrations`).map((r) => r.version),
    );
    if (versions.some((v) => !applied.has(v))) return true;
    if (seeds.length === 0) return false;
    if (!state.seeds) return true;
    for (const file of seeds) {
      const hash = createHash("sha256")
        .update(await readFile(file))
        .digest("hex");
      const [seeded] = await sql`select 1 from supabase_migrations.seed_files where hash = ${hash}`;
      if (!seeded) return true;
    }
    return false;
  } finally {
    await sql.end();
  }
}

/**
 * Platform bootstrap, migrations and seed: a database ready for the project in `projectDir`.
 *
 * @example
 * await prepareDatabase(dbUrl, { projectDir: process.cwd() });
 */
export async function prepareDatabase(
  dbUrl: string,
  options: { projectDir: string; seed?: boolean },
): Promise<void> {
  await applyPlatform(dbUrl);
  const project = loadProject(options.projectDir);
  await applyMigrations(dbUrl, {
    projectDir: options.projectDir,
    seed: (options.seed ?? true) && project.config.seed.enabled,
  });
}
