import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { API_DEFAULTS, AUTH_DEFAULTS } from "../../packages/stack/src/config.ts";
import { signJwt } from "../../packages/stack/src/jwt.ts";
import { generateKeys, type StackKeys } from "../../packages/stack/src/keys.ts";
import { loadProject } from "../../packages/stack/src/project.ts";
import { createRealtimeSurface } from "../../packages/stack/src/realtime/index.ts";
import type { Surface } from "../../packages/stack/src/surface.ts";
import { REPO_ROOT } from "../support/repo.ts";
import { eventually } from "../support/wait.ts";
import { createRoom, useRealtimeStack } from "./realtime-support.ts";

/**
 * Wire-level behaviour realtime-js relies on but cannot show directly: raw frames through the
 * stack, and the surface's own refusal of bad keys (the gateway already refuses unknown keys,
 * so those are checked against the surface mounted alone).
 */

const rt = useRealtimeStack();

/** A raw socket to the stack's Realtime with the anon key, speaking protocol `vsn`, that queues decoded text frames. */
async function rawSocket(vsn: "1.0.0" | "2.0.0") {
  const ws = new WebSocket(
    `${rt.stack.url.replace("http", "ws")}/realtime/v1/websocket?apikey=${rt.stack.anonKey}&vsn=${vsn}`,
  );
  const inbox: unknown[] = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (!isBinary) inbox.push(JSON.parse(data.toString()));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  /** Takes the first frame that matches out of the inbox, waiting up to 2 s for it. */
  const next = async (match: (m: unknown) => boolean): Promise<unknown> => {
    const { frame } = await eventually(
      () => {
        const i = inbox.findIndex(match);
        return i >= 0 ? { frame: inbox.splice(i, 1)[0] } : undefined;
      },
      2000,
      "a matching frame",
    );
    return frame;
  };
  return { ws, inbox, next };
}

describe("realtime wire protocol", () => {
  it("when a v2 client heartbeats, leaves and joins twice, then it gets Phoenix's replies and closes", async () => {
    const [alice] = await rt.users(1);
    const roomId = await createRoom(rt.sql, alice);
    const topic = `realtime:room:${roomId}:1`;
    const s = await rawSocket("2.0.0");
    try {
      s.ws.send(JSON.stringify([null, "1", "phoenix", "heartbeat", {}]));
      expect(await s.next((m) => (m as unknown[])[1] === "1")).toEqual([
        null,
        "1",
        "phoenix",
        "phx_reply",
        { status: "ok", response: {} },
      ]);

      const config = {
        broadcast: { self: true },
        presence: { key: "", enabled: false },
        postgres_changes: [],
        private: true,
      };
      s.ws.send(JSON.stringify(["2", "2", topic, "phx_join", { config, access_token: await alice.token() }]));
      expect(await s.next((m) => (m as unknown[])[1] === "2")).toEqual([
        "2",
        "2",
        topic,
        "phx_reply",
        { status: "ok", response: { postgres_changes: [] } },
      ]);
      // A second join on the same topic closes the first one.
      s.ws.send(JSON.stringify(["3", "3", topic, "phx_join", { config, access_token: await alice.token() }]));
      expect(await s.next((m) => (m as unknown[])[3] === "phx_close")).toEqual([
        "2",
        "2",
        topic,
        "phx_close",
        {},
      ]);
      expect(await s.next((m) => (m as unknown[])[1] === "3")).toMatchObject([
        "3",
        "3",
        topic,
        "phx_reply",
        { status: "ok" },
      ]);

      s.ws.send(JSON.stringify(["3", "4", topic, "phx_leave", {}]));
      expect(await s.next((m) => (m as unknown[])[1] === "4")).toEqual([
        "3",
        "4",
        topic,
        "phx_reply",
        { status: "ok", response: {} },
      ]);
      expect(await s.next((m) => (m as unknown[])[3] === "phx_close")).toEqual([
        "3",
        "3",
        topic,
        "phx_close",
        {},
      ]);

      s.ws.send(
        JSON.stringify(["3", "5", topic, "broadcast", { type: "broadcast", event: "x", payload: {} }]),
      );
      expect(await s.next((m) => (m as unknown[])[1] === "5")).toEqual([
        "3",
        "5",
        topic,
        "phx_reply",
        { status: "error", response: { reason: "unmatched topic" } },
      ]);
    } finally {
      s.ws.terminate();
    }
  });

  it("when a v1 client joins a public channel and broadcasts to itself, then frames are JSON objects", async () => {
    const s = await rawSocket("1.0.0");
    try {
      const topic = "realtime:lobby-v1";
      s.ws.send(
        JSON.stringify({
          topic,
          event: "phx_join",
          payload: { config: { broadcast: { self: true } } },
          ref: "1",
          join_ref: "1",
        }),
      );
      expect(await s.next((m) => (m as { ref?: string }).ref === "1")).toEqual({
        topic,
        event: "phx_reply",
        payload: { status: "ok", response: { postgres_changes: [] } },
        ref: "1",
        join_ref: "1",
      });
      s.ws.send(
        JSON.stringify({
          topic,
          event: "broadcast",
          payload: { type: "broadcast", event: "hi", payload: { n: 1 } },
          ref: "2",
          join_ref: "1",
        }),
      );
      expect(await s.next((m) => (m as { event?: string }).event === "broadcast")).toEqual({
        join_ref: null,
        ref: null,
        topic,
        event: "broadcast",
        payload: { type: "broadcast", event: "hi", payload: { n: 1 } },
      });
    } finally {
      s.ws.terminate();
    }
  });
});

describe("realtime connect refusals", () => {
  let keys: StackKeys;
  let surface: Surface;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    keys = await generateKeys();
    const dbUrl = rt.stack.dbUrl;
    if (!dbUrl) throw new Error("needs the database");
    surface = await createRealtimeSurface({
      dbUrl,
      apiUrl: "http://127.0.0.1:0",
      keys,
      userTokenAlg: "HS256",
      project: loadProject(REPO_ROOT),
      api: { ...API_DEFAULTS },
      auth: { ...AUTH_DEFAULTS },
      mailer: { send: () => {} },
      log: () => {},
      options: { dbUrl, keys, realtimeErrorBackoffMs: 0 },
    });
    server = createServer((req, res) => void surface.handle(req, res, req.url ?? "/"));
    server.on("upgrade", (req, socket, head) => surface.upgrade?.(req, socket, head, req.url ?? "/"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await surface?.close();
    await new Promise<void>((r) => server?.close(() => r()));
  });

  async function refusal(query: string): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base}/websocket${query}`);
      ws.on("unexpected-response", (_req, res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      ws.on("open", () => reject(new Error("connected")));
      ws.on("error", () => {});
    });
  }

  it("when the key is missing, malformed, badly signed, expired or lacks claims, then the upgrade is refused with Supabase's error", async () => {
    const now = Math.floor(Date.now() / 1000);
    const other = await generateKeys();
    expect(await refusal("?vsn=2.0.0")).toEqual({ status: 401, body: { error: "API key is missing" } });
    expect(await refusal("?apikey=not-a-jwt&vsn=2.0.0")).toEqual({
      status: 401,
      body: { error: "The token provided is not a valid JWT" },
    });
    expect(await refusal(`?apikey=${other.anonKey}&vsn=2.0.0`)).toEqual({
      status: 401,
      body: { error: "Failed to validate JWT signature" },
    });
    const expired = await signJwt({ role: "anon", iat: now - 100, exp: now - 10 }, keys);
    expect(await refusal(`?apikey=${expired}&vsn=2.0.0`)).toEqual({
      status: 401,
      body: { error: "Token has expired" },
    });
    const noRole = await signJwt({ iat: now, exp: now + 100 }, keys);
    expect(await refusal(`?apikey=${noRole}&vsn=2.0.0`)).toEqual({
      status: 401,
      body: { error: "Fields `role` and `exp` are required in JWT" },
    });
  });
});
