/**
 * Writes each ```ts block of README.md to `.roomkit/readme-examples/` as a module of its own,
 * which `npm run typecheck` (`tsc`, the repository's `strict` settings) then checks with the rest
 * of the code: the README's examples compile, against this repository's client (`roomkit`).
 * A block's lines keep their README line numbers, so an error there names the README line.
 * The names an app would have (its URL and key, its UI callbacks) are declared in `app.d.ts`.
 *
 * @example
 * npm run typecheck    # runs this first
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const EXAMPLES_DIR = join(ROOT, ".roomkit", "readme-examples");

const APP_NAMES = `// The names a README example takes from the app around it. Written by scripts/readme-examples.ts.
declare const SUPABASE_URL: string;
declare const SUPABASE_PUBLISHABLE_KEY: string;
declare const input: HTMLInputElement;
declare const livekitRoom: { connect(url: string, token: string): Promise<void> };
declare function toast(value: unknown): void;
declare function render(value: unknown): void;
declare function updateCount(roomId: string, count: number): void;
declare function leaveView(reason: string): void;
declare function showError(code: string): void;
`;

/** The README's ```ts blocks, each as a module whose code sits on its README lines. */
export function exampleModules(readme: string): Map<string, string> {
  const modules = new Map<string, string>();
  for (const match of readme.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
    const firstLine = readme.slice(0, match.index).split("\n").length + 1;
    const padding = "\n".repeat(firstLine - 1);
    modules.set(`readme-line-${firstLine}.ts`, `${padding}${match[1]}export {};\n`);
  }
  return modules;
}

async function main(): Promise<void> {
  const modules = exampleModules(await readFile(join(ROOT, "README.md"), "utf8"));
  if (modules.size === 0) throw new Error("README.md has no ```ts blocks");
  modules.set("app.d.ts", APP_NAMES);
  await mkdir(EXAMPLES_DIR, { recursive: true });
  for (const name of await readdir(EXAMPLES_DIR)) {
    if (!modules.has(name)) await rm(join(EXAMPLES_DIR, name));
  }
  // Unchanged files are left alone: the incremental typecheck then skips them.
  for (const [name, text] of modules) {
    const old = await readFile(join(EXAMPLES_DIR, name), "utf8").catch(() => undefined);
    if (old !== text) await writeFile(join(EXAMPLES_DIR, name), text);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
