import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import postgres from "postgres";

const run = promisify(execFile);

/** Repository root (this file lives in src/stack/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PLATFORM_DIR = join(ROOT, "sql", "platform");
const PLATFORM_MARKER = "roomkit-local-platform";

/**
 * Applies `sql/platform/*.sql` (what hosted Supabase already has) unless the database is
 * already a Supabase one: `auth.users` exists but was not created by us.
 * Returns whether it ran.
 */
export async function applyPlatform(dbUrl: string): Promise<"applied" | "supabase"> {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const [state] = await sql<{ has_auth: boolean; ours: boolean }[]>`
      select to_regclass('auth.users') is not null as has_auth,
             coalesce(obj_description(to_regnamespace('_roomkit'), 'pg_namespace') like ${`${PLATFORM_MARKER}%`}, false) as ours`;
    if (state?.has_auth && !state.ours) return "supabase";
    const files = (await readdir(PLATFORM_DIR)).filter((f) => f.endsWith(".sql")).sort();
    for (const file of files) {
      await sql.unsafe(await readFile(join(PLATFORM_DIR, file), "utf8"));
    }
    return "applied";
  } finally {
    await sql.end();
  }
}

/**
 * Applies `supabase/migrations` (and `supabase/seed.sql` when `seed`) with the real Supabase CLI,
 * exactly as a deploy does: `supabase db push --remote=<url> --yes [--include-seed]`. `projectDir` is
 * the folder holding `supabase/` (default: this repository).
 */
export async function applyMigrations(
  dbUrl: string,
  options: { seed?: boolean; projectDir?: string } = {},
): Promise<void> {
  const projectDir = options.projectDir ?? ROOT;
  const args = ["db", "push", `--remote=${dbUrl}`, "--yes", "--workdir", projectDir];
  if (options.seed) args.push("--include-seed");
  try {
    await run(join(ROOT, "node_modules", ".bin", "supabase"), args, {
      cwd: projectDir,
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

/** Platform bootstrap, migrations and seed: a database ready for Roomkit. */
export async function prepareDatabase(dbUrl: string, options: { seed?: boolean } = {}): Promise<void> {
  await applyPlatform(dbUrl);
  await applyMigrations(dbUrl, { seed: options.seed ?? true });
}
