import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/repo.ts";
import type { TestStack } from "../support/stack.ts";
import { startE2EStack } from "../support/stack.ts";

/**
 * The client as an app gets it: `npm pack` (which builds through `prepack`), installed into a
 * throwaway app that has its own supabase-js, then a short story through it.
 */

const run = promisify(execFile);
let stack: TestStack;
let app: string;
let tarball: string;

beforeAll(async () => {
  app = await mkdtemp(join(tmpdir(), "roomkit-app-"));
  const [started, packed] = await Promise.all([
    startE2EStack(),
    run("npm", ["pack", "--silent", "--pack-destination", app], { cwd: REPO_ROOT, maxBuffer: 1 << 24 }),
  ]);
  stack = started;
  tarball = join(app, packed.stdout.trim().split("\n").pop()!);
  const root = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8"));
  await writeFile(
    join(app, "package.json"),
    JSON.stringify({
      name: "throwaway-app",
      private: true,
      type: "module",
      dependencies: {
        roomkit: `file:${tarball}`,
        "@supabase/supabase-js": root.devDependencies["@supabase/supabase-js"],
        ws: root.devDependencies.ws,
      },
    }),
  );
  await run(
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
    {
      cwd: app,
      maxBuffer: 1 << 24,
    },
  );
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  if (app) await rm(app, { recursive: true, force: true });
});

describe("the packed client package", () => {
  it("when packed, then it holds the built library and depends only on zod, with supabase-js as a peer", async () => {
    const pkg = JSON.parse(await readFile(join(app, "node_modules/roomkit/package.json"), "utf8"));
    expect(Object.keys(pkg.dependencies)).toEqual(["zod"]);
    expect(Object.keys(pkg.peerDependencies)).toEqual(["@supabase/supabase-js"]);
    expect(await readdir(join(app, "node_modules/roomkit/dist/src/client"))).toContain("index.js");
    // One supabase-js in the app: the library resolves the app's own copy.
    await expect(readdir(join(app, "node_modules/roomkit/node_modules/@supabase"))).rejects.toThrow();
    for (const server of ["postgres", "livekit-server-sdk"]) {
      await expect(readdir(join(app, "node_modules", server))).rejects.toThrow();
    }
  });

  it("when an app with its own supabase-js runs a story through it, then messages arrive and error codes survive", async () => {
    const { data: room, error } = await stack
      .admin()
      .from("rooms")
      .insert({ kind: "coworking", name: "Tiny", capacity: 1, status: "active" })
      .select("id")
      .single();
    expect(error).toBeNull();
    await writeFile(join(app, "story.mjs"), await readFile(join(REPO_ROOT, "test/package/story.mjs")));
    const { stdout } = await run(process.execPath, ["story.mjs"], {
      cwd: app,
      env: { ...process.env, URL: stack.url, ANON_KEY: stack.anonKey, ROOM_ID: room!.id },
      timeout: 60_000,
    });
    expect(JSON.parse(stdout.trim().split("\n").pop()!)).toEqual({
      open: "ok",
      message: "hello",
      invite_not_found: "invite_not_found",
      instanceof_http: true,
      is_roomkit_error: true,
      room_full: "room_full",
      room_not_found: "room_not_found",
    });
  }, 90_000);
});
