import { request } from "node:http";
import { connect } from "node:net";
import { createClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startStack } from "../../packages/stack/src/index.ts";
import { generateKeys, type StackKeys } from "../../packages/stack/src/keys.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { freePort } from "../support/global-setup.ts";
import { uniqueEmail } from "../support/users.ts";

/** Headers supabase-js 2.119 sends on REST, auth and functions calls (reference §1). */
const CLIENT_HEADERS = [
  "apikey",
  "authorization",
  "x-client-info",
  "content-type",
  "prefer",
  "accept-profile",
  "content-profile",
  "x-supabase-api-version",
  "range",
  "x-retry-count",
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const noSession = {
  auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
};

let db: TestDatabase;
let keys: StackKeys;
let url: string;
let close: () => Promise<void>;

beforeAll(async () => {
  db = await createTestDatabase();
  keys = await generateKeys();
  const stack = await startStack({
    dbUrl: db.url,
    keys,
    port: 0,
    host: "127.0.0.1",
    functions: false,
    log: () => {},
  });
  url = stack.apiUrl;
  close = () => stack.close();
});
afterAll(async () => {
  await close?.();
  await db?.drop();
});

const email = (): string => uniqueEmail("gw");

describe("apikey", () => {
  it("when a request has no apikey, then the gateway answers 401 with Supabase's body", async () => {
    for (const path of ["/rest/v1/rooms", "/auth/v1/settings", "/realtime/v1/api/broadcast"]) {
      const res = await fetch(`${url}${path}`);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        message: "No API key found in request",
        hint: "No `apikey` request header or url param was found.",
      });
    }
  });

  it("when the apikey is not one of the stack's keys, then the gateway answers 401 Invalid API key", async () => {
    const res = await fetch(`${url}/auth/v1/settings`, { headers: { apikey: "sb_publishable_not-ours" } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ message: "Invalid API key" });
  });

  it("when the apikey comes as a query parameter, then it is accepted", async () => {
    const res = await fetch(`${url}/auth/v1/settings?apikey=${encodeURIComponent(keys.anonKey)}`);
    expect(res.status).toBe(200);
  });

  it("when a path is open on Supabase's gateway (the JWKS), then no apikey is needed", async () => {
    const res = await fetch(`${url}/auth/v1/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect((await res.json()).keys[0]).toMatchObject({ kty: "EC", alg: "ES256" });
  });

  it("when only the secret key is sent, then the surface acts as service_role; the publishable key acts as anon", async () => {
    const asSecret = await fetch(`${url}/auth/v1/admin/users`, { headers: { apikey: keys.secretKey } });
    expect(asSecret.status).toBe(200);
    const asPublishable = await fetch(`${url}/auth/v1/admin/users`, {
      headers: { apikey: keys.publishableKey, "x-supabase-api-version": "2024-01-01" },
    });
    expect(asPublishable.status).toBe(403);
    expect((await asPublishable.json()).code).toBe("not_admin");
  });

  it("when an sb_ key is sent as the Bearer token, then it is never used as one: the apikey decides", async () => {
    const res = await fetch(`${url}/auth/v1/admin/users`, {
      headers: {
        apikey: keys.publishableKey,
        authorization: `Bearer ${keys.secretKey}`,
        "x-supabase-api-version": "2024-01-01",
      },
    });
    expect(res.status).toBe(403);
  });

  it("when supabase-js is made with the publishable and secret keys, then auth and admin calls work", async () => {
    const client = createClient(url, keys.publishableKey, noSession);
    const signUp = await client.auth.signUp({ email: email(), password: "password-123" });
    expect(signUp.error).toBeNull();
    expect((await client.auth.getUser()).data.user?.id).toBe(signUp.data.user?.id);
    const admin = createClient(url, keys.secretKey, noSession);
    const list = await admin.auth.admin.listUsers();
    expect(list.error).toBeNull();
    expect(list.data.users.some((u) => u.id === signUp.data.user?.id)).toBe(true);
  });
});

describe("CORS, request ids, routing", () => {
  it("when a browser sends a preflight with every header supabase-js uses, then all are allowed without an apikey", async () => {
    const res = await fetch(`${url}/rest/v1/rooms`, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "PATCH",
        "access-control-request-headers": CLIENT_HEADERS.join(","),
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").split(",").map((h) => h.trim());
    for (const h of CLIENT_HEADERS) expect(allowed).toContain(h);
    expect(res.headers.get("access-control-allow-methods")).toContain("PATCH");
  });

  it("when a response is read by a browser, then counts and request ids are exposed", async () => {
    const res = await fetch(`${url}/auth/v1/health`, {
      headers: { apikey: keys.anonKey, origin: "http://x.test" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const exposed = res.headers.get("access-control-expose-headers") ?? "";
    expect(exposed).toContain("content-range");
    expect(exposed).toContain("x-request-id");
  });

  it("when any response goes out (success, 401, 404), then it carries its own uuid x-request-id", async () => {
    const responses = await Promise.all([
      fetch(`${url}/auth/v1/health`, { headers: { apikey: keys.anonKey } }),
      fetch(`${url}/rest/v1/rooms`),
      fetch(`${url}/nowhere`),
    ]);
    const ids = responses.map((r) => r.headers.get("x-request-id"));
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(3);
  });

  it("when a path matches no surface, then the answer is 404 JSON", async () => {
    const res = await fetch(`${url}/storage/v1/object/x`, { headers: { apikey: keys.anonKey } });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json()).toEqual({ message: "no Route matched with those values" });
  });

  it("when the realtime admin API is asked for, then the gateway forbids it as Supabase's does", async () => {
    const res = await fetch(`${url}/realtime/v1/api/tenants`, { headers: { apikey: keys.serviceRoleKey } });
    expect(res.status).toBe(403);
  });

  it("when functions are disabled, then /functions/v1 is an unknown route rather than an apikey error", async () => {
    const res = await fetch(`${url}/functions/v1/hello`, { method: "POST" });
    expect(res.status).toBe(404);
  });

  it("when a realtime websocket opens without an apikey, then the upgrade is refused with 401", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${url.replace("http", "ws")}/realtime/v1/websocket?vsn=1.0.0`);
      ws.on("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on("open", () => reject(new Error("opened without an apikey")));
      ws.on("error", () => {});
    });
    expect(status).toBe(401);
  });
});

describe("close", () => {
  it("when the stack closes with a keep-alive connection open, then close resolves and the port is free again", async () => {
    const other = await createTestDatabase();
    try {
      const port = await freePort();
      const stack = await startStack({
        dbUrl: other.url,
        keys,
        port,
        host: "127.0.0.1",
        functions: false,
        log: () => {},
      });
      await new Promise<void>((resolve, reject) => {
        const req = request(`${stack.apiUrl}/auth/v1/health`, {
          headers: { apikey: keys.anonKey, connection: "keep-alive" },
        });
        req.on("response", (res) => {
          res.resume();
          res.on("end", () => resolve());
        });
        req.on("error", reject);
        req.end();
      });
      const idle = connect(port, "127.0.0.1");
      await new Promise((r) => idle.once("connect", r));
      const started = Date.now();
      await stack.close();
      expect(Date.now() - started).toBeLessThan(5000);
      const refused = await new Promise<boolean>((resolve) => {
        const probe = connect(port, "127.0.0.1");
        probe.once("error", () => resolve(true));
        probe.once("connect", () => {
          probe.destroy();
          resolve(false);
        });
      });
      expect(refused).toBe(true);
      idle.destroy();
    } finally {
      await other.drop();
    }
  });

  it("when the port is taken, then startStack fails naming the port", async () => {
    const port = Number(new URL(url).port);
    await expect(
      startStack({ dbUrl: db.url, keys, port, host: "127.0.0.1", functions: false, log: () => {} }),
    ).rejects.toThrow(`API port ${port} on 127.0.0.1 is already in use`);
  });
});
