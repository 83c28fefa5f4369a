import { describe, expect, it } from "vitest";
import {
  fromFunctionResponse,
  fromPostgrestError,
  isRoomkitError,
  RoomkitHttpError,
  RoomkitNetworkError,
} from "../../src/client/errors.ts";
import { createRoomkitClient } from "../../src/client/index.ts";
import { createRoomInput } from "../../src/client/schemas.ts";
import { validate } from "../../src/client/transport.ts";

describe("error mapping", () => {
  it("when a SQL function raised a Roomkit hint, then the code is the hint", () => {
    const error = fromPostgrestError(
      { message: "Focus Zone is full (10/10)", code: "PT409", hint: "room_full" },
      409,
    );
    expect(error).toBeInstanceOf(RoomkitHttpError);
    expect(error.code).toBe("room_full");
    expect((error as RoomkitHttpError).status).toBe(409);
    expect(isRoomkitError(error)).toBe(true);
  });

  it("when there is no hint, then the SQLSTATE and then the status decide", () => {
    expect(fromPostgrestError({ message: "check", code: "23514", hint: null }, 400).code).toBe(
      "invalid_input",
    );
    expect(fromPostgrestError({ message: "dup", code: "23505", hint: null }, 409).code).toBe("conflict");
    expect(fromPostgrestError({ message: "denied", code: "42501", hint: null }, 401).code).toBe(
      "not_authenticated",
    );
    expect(fromPostgrestError({ message: "x", code: "XX000", hint: null }, 500).code).toBe("internal_error");
  });

  it("when the request never got an answer (status 0), then it is a network error", () => {
    expect(fromPostgrestError({ message: "TypeError: fetch failed" }, 0)).toBeInstanceOf(RoomkitNetworkError);
  });

  it("when an edge function answers with the error envelope, then its code and details are kept", async () => {
    const body = { error: { code: "room_full", message: "full", details: { capacity: 8 } } };
    const response = new Response(JSON.stringify(body), {
      status: 409,
      headers: { "content-type": "application/json" },
    });
    const error = await fromFunctionResponse(response);
    expect(error).toMatchObject({
      code: "room_full",
      message: "full",
      status: 409,
      details: { capacity: 8 },
    });
  });

  it("when an edge function answers without an envelope, then the status gives the code", async () => {
    const error = await fromFunctionResponse(new Response("bad gateway", { status: 502 }));
    expect(error.code).toBe("internal_error");
  });

  it("when input is invalid, then the validation error names the field", () => {
    const { error } = validate(createRoomInput, { name: "   " });
    expect(error?.code).toBe("invalid_input");
    expect(error?.message).toMatch(/^name:/);
  });

  it("when createRoomkitClient gets no supabase client, then it throws (misuse)", () => {
    expect(() => createRoomkitClient(undefined as never)).toThrow(TypeError);
  });
});
