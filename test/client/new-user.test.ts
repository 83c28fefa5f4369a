import { createClient } from "@supabase/supabase-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createRoomkitClient } from "../../src/client/index.ts";
import { MessagesClient } from "../../src/client/messages.ts";
import { type Db, invoke } from "../../src/client/transport.ts";

const ROOM = "6f1c7f0e-8a52-4f1e-9d3b-4b8f2c1d0a11";

/** A Db whose every use fails the test: the call under test must not reach the server. */
const unreachable = new Proxy({} as Db, {
  get(_target, key) {
    throw new Error(`unexpected use of db.${String(key)}`);
  },
});

describe("what a new user tripped over", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("when the last page's null next_cursor is passed back as before, then the answer is an empty last page", async () => {
    const messages = new MessagesClient(unreachable);
    const { data, error } = await messages.list(ROOM, { before: null });
    expect(error).toBeNull();
    expect(data).toEqual({ messages: [], next_cursor: null });
  });

  it("when supabase-js is another copy than the library's (npm link, file: install), then function error codes survive", async () => {
    // A FunctionsHttpError from a second copy of supabase-js: same name and shape, other class.
    class FunctionsHttpError extends Error {
      override name = "FunctionsHttpError";
      constructor(readonly context: Response) {
        super("Edge Function returned a non-2xx status code");
      }
    }
    const body = { error: { code: "room_full", message: "Sprint Room is full (8/8)" } };
    const response = new Response(JSON.stringify(body), {
      status: 409,
      headers: { "content-type": "application/json" },
    });
    const db = {
      functions: { invoke: async () => ({ data: null, error: new FunctionsHttpError(response) }) },
    } as unknown as Db;
    const { error } = await invoke(db, "coworking/rooms/x/join", { method: "POST" }, z.unknown());
    expect(error?.code).toBe("room_full");
    expect(error).toMatchObject({ status: 409 });
  });

  it("when a function call never got an answer in another copy of supabase-js, then it is a network error", async () => {
    class FunctionsFetchError extends Error {
      override name = "FunctionsFetchError";
      readonly context = new TypeError("fetch failed");
    }
    const db = {
      functions: { invoke: async () => ({ data: null, error: new FunctionsFetchError("Failed to send") }) },
    } as unknown as Db;
    const { error } = await invoke(db, "invites", { method: "GET" }, z.unknown());
    expect(error?.code).toBe("network_error");
  });

  it.skipIf(Number(process.versions.node.split(".")[0]) >= 22)(
    "when Node 20's experimental WebSocket is the realtime transport, then createRoomkitClient throws with the fix",
    () => {
      // What `node --experimental-websocket` gives: a global WebSocket that never reports a refused
      // connection, so sessions would stay `reconnecting` forever after a server restart.
      vi.stubGlobal("WebSocket", class FakeNode20WebSocket {});
      const supabase = createClient("http://127.0.0.1:1", "anon-key");
      expect(() => createRoomkitClient(supabase)).toThrow(/from "ws".*transport: WebSocket/s);
    },
  );

  it("when the realtime transport is given explicitly, then createRoomkitClient accepts it", () => {
    class Transport {}
    const supabase = createClient("http://127.0.0.1:1", "anon-key", {
      realtime: { transport: Transport as unknown as typeof globalThis.WebSocket },
    });
    expect(() => createRoomkitClient(supabase)).not.toThrow();
  });
});
