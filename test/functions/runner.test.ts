import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  discoverFunctions,
  readEnvFile,
  readFunctionSections,
} from "../../packages/stack/src/functions/config.ts";
import { denoDirFor } from "../../packages/stack/src/functions/index.ts";
import { FunctionsRuntime } from "../../packages/stack/src/functions/runtime.ts";
import { denoBinary } from "../../packages/stack/src/paths.ts";
import { REPO_ROOT as ROOT } from "../support/repo.ts";
import { body, type FunctionsStack, startFunctionsStack } from "./support.ts";

describe("the functions surface of the local stack", () => {
  let f: FunctionsStack;
  beforeAll(async () => {
    f = await startFunctionsStack();
  });
  afterAll(() => f?.stop());

  test("when a function name is unknown, then 404 'Function not found' as the edge runtime answers", async () => {
    const res = await f.call("no-such-function");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("Function not found");
  });

  test("when verify_jwt is on and the JWT is missing or invalid, then 401 with Supabase's body before the function runs", async () => {
    const missing = await f.call("invites", { token: null, headers: { apikey: "" } });
    expect(missing.status).toBe(401);
    expect(await body(missing)).toEqual({ msg: "Error: Missing authorization header" });
    const forged = await f.call("invites", { token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl" });
    expect(forged.status).toBe(401);
    expect(await body(forged)).toEqual({ msg: "Invalid JWT" });
  });

  test("when only the service_role key is sent as apikey, then the gateway maps it and the function sees the service role", async () => {
    // Moderation is service-role only: reaching the 404 (no such room) proves the caller was accepted.
    const res = await f.call(`coworking/rooms/${crypto.randomUUID()}/participants/${crypto.randomUUID()}`, {
      method: "DELETE",
      token: null,
      headers: { apikey: f.stack.serviceRoleKey },
    });
    expect(res.status).toBe(404);
    expect((await body<{ error: { code: string } }>(res)).error.code).toBe("room_not_found");
  });

  test("when a browser sends a preflight, then it is answered with CORS headers and no auth", async () => {
    const res = await fetch(`${f.stack.url}/functions/v1/invites`, { method: "OPTIONS" });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-headers")).toContain("authorization");
  });

  test("when a function answers, then the response carries the gateway's request id", async () => {
    const res = await f.call("coworking/rooms");
    expect(res.status).toBe(200);
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("the Deno worker", () => {
  let root: string;
  let runtime: FunctionsRuntime;
  let server: Server;
  let url: string;
  const logs: string[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "roomkit-fn-"));
    const fn = async (name: string, code: string) => {
      await mkdir(join(root, "supabase", "functions", name), { recursive: true });
      await writeFile(join(root, "supabase", "functions", name, "index.ts"), code);
    };
    await fn(
      "hello",
      `export const handler = (req: Request) => {
         console.log("hello from", new URL(req.url).pathname);
         EdgeRuntime.waitUntil(new Promise((r) => setTimeout(r, 20)).then(() => console.log("background done")));
         return Response.json({ path: new URL(req.url).pathname, secret: Deno.env.get("MY_SECRET"), internal: Deno.env.get("ROOMKIT_FUNCTIONS") ?? null });
       };`,
    );
    await fn("boom", `export const handler = () => { throw new Error("kaboom"); };`);
    await fn("die", `export const handler = () => { Deno.exit(3); };`);
    await fn("broken", `import "./missing-module.ts"; export const handler = () => new Response("never");`);
    await fn("bare", `Deno.serve(() => new Response("bare ok"));`);
    runtime = await FunctionsRuntime.start({
      cwd: root,
      functions: discoverFunctions(root),
      env: { MY_SECRET: "from-env" },
      denoBin: denoBinary(),
      denoDir: denoDirFor(ROOT),
      log: (source, line) => logs.push(`[${source}] ${line}`),
    });
    server = createServer((req, res) => void runtime.proxy(req, res, req.url ?? "/"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await runtime?.close();
    await new Promise((resolve) => server?.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  test("when a function runs, then it sees /<name>/… paths, its secrets but not the runner's, and logs with its name", async () => {
    const res = await fetch(`${url}/hello/sub/path?x=1`);
    expect(await res.json()).toEqual({ path: "/hello/sub/path", secret: "from-env", internal: null });
    await expect.poll(() => logs).toContain("[functions:hello] background done");
    expect(logs).toContain("[functions:hello] hello from /hello/sub/path");
  });

  test("when a function throws, then 500 WORKER_ERROR and the worker keeps serving", async () => {
    const res = await fetch(`${url}/boom`);
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ code: "WORKER_ERROR" });
    expect(logs.some((l) => l.startsWith("[functions:boom]") && l.includes("kaboom"))).toBe(true);
    expect((await fetch(`${url}/hello`)).status).toBe(200);
  });

  test("when the worker process dies, then that request gets a 5xx and the next one is served by a new worker", async () => {
    const starts = runtime.stats.starts;
    const res = await fetch(`${url}/die`);
    expect(res.status).toBeGreaterThanOrEqual(500);
    await expect.poll(() => runtime.stats.starts, { timeout: 10_000 }).toBe(starts + 1);
    expect((await fetch(`${url}/hello`)).status).toBe(200);
  });

  test("when a function fails to load, then it answers 503 BOOT_ERROR and the others still work", async () => {
    const res = await fetch(`${url}/broken`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: "BOOT_ERROR" });
    expect(await (await fetch(`${url}/bare`)).text()).toBe("bare ok");
  });
});

describe("project configuration", () => {
  test("when config.toml has [functions.x] tables, then verify_jwt and entrypoint are read", () => {
    const sections = readFunctionSections(
      `[api]\nport = 1\n[functions.hook]\nverify_jwt = false # comment\nentrypoint = "../x/index.ts"\n[functions."quoted-name"]\nenabled = false\n`,
    );
    expect(sections.get("hook")).toEqual({ verify_jwt: false, entrypoint: "../x/index.ts" });
    expect(sections.get("quoted-name")).toEqual({ enabled: false });
    expect(sections.has("api")).toBe(false);
  });

  test("when the repository is scanned, then the Roomkit functions are found with their verify_jwt", () => {
    const fns = new Map(discoverFunctions(ROOT).map((f) => [f.name, f]));
    expect(fns.get("livekit-webhook")?.verifyJwt).toBe(false);
    expect(fns.get("invites")?.verifyJwt).toBe(true);
    expect(fns.has("_shared")).toBe(false);
  });

  test("when a dotenv file has quotes, comments and export, then the values are read as the CLI reads them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "roomkit-env-"));
    const file = join(dir, ".env");
    await writeFile(file, `# secrets\nA=1\nexport B="two words"\nC='x#y'\nD=plain # trailing\n\n`);
    expect(readEnvFile(file)).toEqual({ A: "1", B: "two words", C: "x#y", D: "plain" });
    expect(readEnvFile(join(dir, "missing"))).toEqual({});
    await rm(dir, { recursive: true, force: true });
  });
});
