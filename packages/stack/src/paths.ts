/**
 * Where the stack's own files and the tools it runs live. The package (this folder's parent) holds
 * `sql/platform` and the Deno worker script; the Supabase CLI and Deno come from npm, resolved
 * from here like any other dependency, so the stack runs the same from this repository, from
 * `node_modules/roomkit-stack`, or through `npx roomkit-stack`.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The stack package's folder (`packages/stack` in the Roomkit repository). */
export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");

/** What hosted Supabase already has and plain Postgres lacks; applied by the local stack only. */
export const PLATFORM_SQL_DIR = join(PACKAGE_DIR, "sql", "platform");

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/**
 * The Supabase CLI (npm `supabase`): its JavaScript launcher, run with this Node.
 *
 * @example
 * execFile(process.execPath, [supabaseCli(), "db", "push", …]);
 */
export function supabaseCli(): string {
  return join(packageDir("supabase"), "dist", "supabase.js");
}

/**
 * The Deno binary of npm `deno` (the native binary next to its package.json, else its launcher).
 *
 * @example
 * spawn(denoBinary(), ["run", "worker.ts"]);
 */
export function denoBinary(): string {
  const dir = packageDir("deno");
  const native = join(dir, process.platform === "win32" ? "deno.exe" : "deno");
  return existsSync(native) ? native : join(dir, "bin.cjs");
}
