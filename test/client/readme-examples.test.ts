import { readFile } from "node:fs/promises";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/repo.ts";

/**
 * The README's TypeScript examples compile under `strict`, as in a new Vite app: each ```ts block
 * of the README is a module importing `roomkit` (this repository's client source), with the names
 * an app would have (its URL and key, its UI callbacks) declared here.
 */

const APP_NAMES = `
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

async function readmeBlocks(): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
}

function compile(files: Record<string, string>): string[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
    types: [],
    skipLibCheck: true,
    baseUrl: REPO_ROOT,
    paths: { roomkit: ["src/client/index.ts"] },
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (name) => files[name] ?? read(name);
  const exists = host.fileExists.bind(host);
  host.fileExists = (name) => name in files || exists(name);
  const program = ts.createProgram(Object.keys(files), options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && d.file.fileName in files)
    .map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      return `${d.file!.fileName}:${line + 1 - APP_NAMES.split("\n").length + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
}

describe("README examples", () => {
  it("when the README's TypeScript blocks are compiled under strict, then there are no errors", async () => {
    const blocks = await readmeBlocks();
    expect(blocks.length).toBeGreaterThan(0);
    const files = Object.fromEntries(
      blocks.map((code, i) => [
        join(REPO_ROOT, `readme-example-${i}.ts`),
        `${APP_NAMES}${code}\nexport {};\n`,
      ]),
    );
    expect(compile(files)).toEqual([]);
  }, 60_000);
});
