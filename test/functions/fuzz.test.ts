import { createHash } from "node:crypto";
import fc from "fast-check";
import { AccessToken } from "livekit-server-sdk";
import { afterAll, beforeAll, expect, test } from "vitest";
import { privateRoom } from "../support/rooms.ts";
import { EXTERNAL_STACK } from "../support/stack.ts";
import {
  type LivekitFunctionsStack,
  rowCounts,
  startFunctionsStackWithFakeLivekit,
  type TestUser,
} from "./support.ts";

// Property-based: whatever the body, path segment or method, a function never answers 5xx, and a
// refused request (4xx) writes nothing. LiveKit is faked at its HTTP edge (Twirp on loopback).
let f: LivekitFunctionsStack;
let ada: TestUser;
let bob: TestUser;
let privateId: string;
let coworkingId: string;

beforeAll(async () => {
  f = await startFunctionsStackWithFakeLivekit();
  ada = await f.user("Ada");
  bob = await f.user("Bob");
  privateId = await privateRoom(f.sql, ada);
  const [room] = await f.sql<{ id: string }[]>`
    insert into roomkit.rooms (kind, name, capacity) values ('coworking', 'Fuzz room', 3) returning id`;
  coworkingId = room!.id;
});
afterAll(() => f?.stop());

const RUNS = 40;

/** What a request made as Ada or Bob could write: rows of theirs and of the rooms this file made. */
const ours = () => ({ users: [ada.id, bob.id], rooms: [privateId, coworkingId] });

/** Ids that exist mixed with junk, so some inputs get past validation into the SQL functions. */
const idLike = () =>
  fc.oneof(
    fc
      .constantFrom(
        () => privateId,
        () => coworkingId,
        () => ada.id,
        () => bob.id,
      )
      .map((get) => get()),
    fc.uuid(),
    fc.string({ maxLength: 40 }),
    fc.constantFrom(
      "",
      " ",
      "null",
      "00000000-0000-0000-0000-000000000000",
      "'; drop table rooms; --",
      "%",
      "..",
      "🙂",
    ),
  );

/** Any JSON value, with Roomkit's field names more likely. */
const jsonBody = () =>
  fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        room_id: fc.oneof(idLike(), fc.jsonValue()),
        invitee_id: fc.oneof(idLike(), fc.jsonValue()),
        invitee_email: fc.oneof(fc.emailAddress(), fc.string(), fc.constant(bob.email)),
        enabled: fc.oneof(fc.boolean(), fc.jsonValue()),
      },
      { requiredKeys: [] },
    ),
  );

const bodyText = () =>
  fc.oneof(
    jsonBody().map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 200 }),
    fc.constantFrom("{", "[1,", "\u0000", "null", '{"room_id":'),
  );

async function expectNoServerErrorAndNoWriteOnRefusal(
  path: string,
  method: string,
  raw: string | undefined,
  token: string,
) {
  const before = await rowCounts(f.sql, ours());
  // fetch refuses a body on GET; the route must then cope with its absence instead.
  const sendBody = raw !== undefined && method !== "GET";
  const res = await f.call(path, { method, token, ...(sendBody ? { body: raw } : {}) });
  const text = await res.text();
  expect(res.status, `${method} ${path} ${raw} → ${res.status} ${text}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(await rowCounts(f.sql, ours()), `${method} ${path} ${raw} wrote rows on ${res.status}`).toEqual(
      before,
    );
    // Paths like `coworking/..` normalise away from the function: then the runtime or gateway answers in its own shape.
    const fromPlatform = text === "Function not found" || /^\{"(msg|message)"/.test(text);
    if (!fromPlatform) expect(JSON.parse(text).error.code).toEqual(expect.any(String));
  }
}

/** Ada's or Bob's token (read when the property runs, after beforeAll signed them in). */
const eitherUsersToken = () =>
  fc.constantFrom(
    () => ada.token,
    () => bob.token,
  );

/** A generated request sent as one of the users, checked as above. */
const sendAndCheck = async (
  { path, method, raw }: { path: string; method: string; raw: string | undefined },
  token: () => string,
) => expectNoServerErrorAndNoWriteOnRefusal(path, method, raw, token());

const seg = () => idLike().map((s) => encodeURIComponent(s) || "x");

test("when invites get arbitrary bodies and ids, then never a 5xx and nothing written on 4xx", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.record({ path: fc.constant("invites"), method: fc.constant("POST"), raw: bodyText() }),
        fc.record({
          path: fc
            .tuple(seg(), fc.constantFrom("accept", "decline", "revoke"))
            .map(([id, a]) => `invites/${id}/${a}`),
          method: fc.constantFrom("POST", "GET", "PUT", "DELETE"),
          raw: fc.option(bodyText(), { nil: undefined }),
        }),
        fc.record({
          path: fc
            .record({ status: fc.string({ maxLength: 12 }), room_id: idLike() }, { requiredKeys: [] })
            .map((q) => `invites?${new URLSearchParams(q as Record<string, string>)}`),
          method: fc.constant("GET"),
          raw: fc.constant(undefined),
        }),
      ),
      eitherUsersToken(),
      sendAndCheck,
    ),
    { numRuns: RUNS },
  );
});

test("when coworking and livekit-token get arbitrary bodies, ids and methods, then never a 5xx and nothing written on 4xx", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.record({
          path: fc
            .tuple(seg(), fc.constantFrom("join", "leave", "mic"))
            .map(([id, a]) => `coworking/rooms/${id}/${a}`),
          method: fc.constantFrom("POST", "PUT", "GET", "PATCH"),
          raw: fc.option(bodyText(), { nil: undefined }),
        }),
        fc.record({
          path: fc.tuple(seg(), seg()).map(([r, u]) => `coworking/rooms/${r}/participants/${u}`),
          method: fc.constantFrom("DELETE", "POST"),
          raw: fc.constant(undefined),
        }),
        fc.record({ path: fc.constant("livekit-token"), method: fc.constant("POST"), raw: bodyText() }),
        fc.record({
          path: fc.array(seg(), { maxLength: 4 }).map((parts) => `coworking/${parts.join("/")}`),
          method: fc.constantFrom("GET", "POST", "DELETE"),
          raw: fc.constant(undefined),
        }),
      ),
      eitherUsersToken(),
      sendAndCheck,
    ),
    { numRuns: RUNS * 2 },
  );
});

// Signs webhooks with the fake LiveKit's keys the functions are given (functionsEnv): local stack only.
test.skipIf(EXTERNAL_STACK)(
  "when the webhook gets arbitrary bodies, signed or not, then never a 5xx and unsigned ones write nothing",
  async () => {
    await fc.assert(
      fc.asyncProperty(bodyText(), fc.boolean(), async (raw, signIt) => {
        let authorization = "junk";
        if (signIt) {
          const at = new AccessToken(f.livekit.apiKey, f.livekit.apiSecret);
          at.sha256 = createHash("sha256").update(raw).digest("base64");
          authorization = await at.toJwt();
        }
        const before = await rowCounts(f.sql);
        const res = await f.call("livekit-webhook", {
          method: "POST",
          token: null,
          body: raw,
          headers: { authorization },
        });
        expect(res.status, `${raw} → ${res.status} ${await res.clone().text()}`).toBeLessThan(500);
        if (!signIt) expect(res.status).toBe(401);
        if (res.status >= 400) expect(await rowCounts(f.sql)).toEqual(before);
      }),
      { numRuns: RUNS },
    );
  },
);
