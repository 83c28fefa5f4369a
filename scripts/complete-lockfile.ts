/**
 * Adds lock entries for platform-specific optional dependencies that the npm registry this
 * project is built against does not serve (it answers 404 for darwin/win32/android/musl
 * binaries of biome, deno, rollup, the Supabase CLI…). Without them `npm install` writes a
 * lock that `npm ci` then rejects as "Missing: … from lock file". The entries carry only the
 * version: on a platform that needs one, npm fetches it by name as usual.
 *
 * Run after any `npm install` that changes package-lock.json: `npx tsx scripts/complete-lockfile.ts`
 */
import { readFileSync, writeFileSync } from "node:fs";

type LockNode = {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  optionalDependencies?: Record<string, string>;
};
const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8")) as { packages: Record<string, LockNode> };
const added: string[] = [];
for (const [path, node] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(node.optionalDependencies ?? {})) {
    const nested = `${path ? `${path}/` : ""}node_modules/${name}`;
    const top = `node_modules/${name}`;
    if (lock.packages[nested] || lock.packages[top]) continue;
    // Flags as npm itself writes them, so a later `npm install` leaves the file unchanged.
    lock.packages[top] = { version, ...(node.dev ? { dev: true } : {}), optional: true };
    added.push(`${name}@${version}`);
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  added.length ? `added ${added.length} lock entries: ${added.join(", ")}` : "lock file already complete",
);
