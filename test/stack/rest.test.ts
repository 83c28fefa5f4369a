/**
 * Conformance of `/rest/v1` with PostgREST v14 as supabase-js 2.119 sees it, on Roomkit's tables
 * and functions. Runs against the local stack, or a real Supabase stack when SUPABASE_URL is set.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXTERNAL_WITHOUT_JWT_SECRET, startTestStack, type TestStack } from "../support/stack.ts";
import { type Person, signUp } from "../support/users.ts";
import { restFetch } from "./rest-support.ts";

/** `restFetch` on Roomkit's schema, with the profile header supabase-js's `db.schema` sends. */
function roomkitFetch(...[api, path, init = {}]: Parameters<typeof restFetch>): Promise<Response> {
  const write = init.method !== undefined && !["GET", "HEAD"].includes(init.method);
  const profile = { [write ? "Content-Profile" : "Accept-Profile"]: "roomkit" };
  return restFetch(api, path, { ...init, headers: { ...profile, ...init.headers } });
}

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ functions: false });
});
afterAll(async () => {
  await stack?.stop();
});

async function privateRoom(owner: Person, name = "Room"): Promise<string> {
  const { data, error } = await owner.supabase.rpc("create_private_room", { name });
  expect(error).toBeNull();
  return (data as { id: string }).id;
}

describe("reads", () => {
  it("when anon selects coworking rooms, then the seeded rooms come back as an array", async () => {
    const { data, error, status } = await stack
      .client()
      .from("rooms")
      .select("name, capacity")
      .eq("kind", "coworking");
    expect(error).toBeNull();
    expect(status).toBe(200);
    expect(data?.map((r) => r.name)).toEqual(
      expect.arrayContaining(["Focus Zone", "Creative Studio", "Study Hall", "Coffee Break", "Sprint Room"]),
    );
  });

  it("when filtering, ordering and paging, then the rows follow PostgREST semantics", async () => {
    const client = stack.client();
    // Only the seeded rooms: against an external stack, other test files add rooms to the same database.
    const seeded = await client
      .from("rooms")
      .select("id")
      .eq("kind", "coworking")
      .in("name", ["Focus Zone", "Creative Studio", "Study Hall", "Coffee Break", "Sprint Room"]);
    const ids = seeded.data!.map((r) => r.id);
    const ordered = await client
      .from("rooms")
      .select("name,capacity")
      .eq("kind", "coworking")
      .order("capacity", { ascending: false });
    const caps = ordered.data!.map((r) => r.capacity!);
    expect(caps).toEqual([...caps].sort((a, b) => b - a));
    const inList = await client
      .from("rooms")
      .select("name")
      .in("name", ["Focus Zone", "Sprint Room"])
      .in("id", ids)
      .order("name");
    expect(inList.data).toEqual([{ name: "Focus Zone" }, { name: "Sprint Room" }]);
    const orFilter = await client
      .from("rooms")
      .select("name")
      .or("capacity.lt.9,name.eq.Study Hall")
      .in("id", ids)
      .order("name");
    expect(orFilter.data?.map((r) => r.name)).toEqual(["Sprint Room", "Study Hall"]);
    const ilike = await client.from("rooms").select("name").ilike("name", "%studio%").in("id", ids);
    expect(ilike.data).toEqual([{ name: "Creative Studio" }]);
    const notNull = await client
      .from("rooms")
      .select("name")
      .not("capacity", "is", null)
      .gte("capacity", 15)
      .in("id", ids)
      .order("name");
    expect(notNull.data?.map((r) => r.name)).toEqual(["Creative Studio", "Study Hall"]);
    const page = await client
      .from("rooms")
      .select("name")
      .eq("kind", "coworking")
      .in("id", ids)
      .order("name")
      .range(1, 2);
    expect(page.data?.map((r) => r.name)).toEqual(["Creative Studio", "Focus Zone"]);
  });

  it("when a count is requested, then Content-Range carries the total and a partial page is 206", async () => {
    const { count, status, data } = await stack
      .client()
      .from("rooms")
      .select("name", { count: "exact" })
      .eq("kind", "coworking")
      .order("name")
      .limit(2);
    expect(data).toHaveLength(2);
    expect(count).toBeGreaterThanOrEqual(5);
    expect(status).toBe(206);
    const head = await stack
      .client()
      .from("rooms")
      .select("*", { count: "exact", head: true })
      .eq("kind", "coworking");
    expect(head.data).toBeNull();
    expect(head.count).toBe(count);
    const res = await roomkitFetch(stack, "/rooms?select=name&kind=eq.coworking&limit=2", {
      headers: { Prefer: "count=exact" },
    });
    expect(res.headers.get("content-range")).toBe(`0-1/${count}`);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const planned = await stack.client().from("rooms").select("name", { count: "planned" }).limit(1);
    expect(planned.count).toEqual(expect.any(Number));
  });

  it("when an offset is past the end with a count, then 416 PGRST103", async () => {
    const res = await roomkitFetch(stack, "/rooms?select=name&kind=eq.coworking&offset=500", {
      headers: { Prefer: "count=exact" },
    });
    expect(res.status).toBe(416);
    expect((await res.json()).code).toBe("PGRST103");
  });

  it("when single() finds no row, then 406 PGRST116; maybeSingle() gives null", async () => {
    const none = await stack.client().from("rooms").select("id").eq("name", "No Such Room").single();
    expect(none.status).toBe(406);
    expect(none.error?.code).toBe("PGRST116");
    expect(none.error?.details).toBe("The result contains 0 rows");
    const maybe = await stack.client().from("rooms").select("id").eq("name", "No Such Room").maybeSingle();
    expect(maybe.error).toBeNull();
    expect(maybe.data).toBeNull();
    const one = await stack.client().from("rooms").select("name").eq("name", "Focus Zone").single();
    expect(one.data).toEqual({ name: "Focus Zone" });
    const many = await stack.client().from("rooms").select("name").eq("kind", "coworking").single();
    expect(many.error?.code).toBe("PGRST116");
  });

  it("when selecting aliases, casts and JSON paths, then keys are named as PostgREST names them", async () => {
    const ada = await signUp(stack, "Ada");
    const roomId = await privateRoom(ada);
    await ada.supabase.rpc("send_message", { room_id: roomId, body: "hello" });
    const { data, error } = await ada.supabase
      .from("room_messages")
      .select("text:body, size:body::int4, kind, meta:metadata")
      .eq("room_id", roomId)
      .eq("kind", "text")
      .limit(1)
      .maybeSingle()
      .then(
        (r) => r,
        (e) => ({ data: null, error: e }),
      );
    // `body::int4` cannot cast "hello": Postgres' own error comes back as a 400.
    expect(data).toBeNull();
    expect(error?.code).toBe("22P02");
    const ok = await ada.supabase
      .from("room_messages")
      .select("text:body, kind, len:metadata->>x")
      .eq("room_id", roomId)
      .eq("kind", "text");
    expect(ok.error).toBeNull();
    expect(ok.data).toEqual([{ text: "hello", kind: "text", len: null }]);
  });

  it("when embedding, then to-one is an object, to-many an array, counts and !inner work", async () => {
    const ada = await signUp(stack, "Ada");
    const roomId = await privateRoom(ada, "Embeds");
    await ada.supabase.rpc("send_message", { room_id: roomId, body: "one" });
    await ada.supabase.rpc("send_message", { room_id: roomId, body: "two" });
    const { data, error } = await ada.supabase
      .from("rooms")
      .select(
        "name, creator:profiles!created_by(display_name), room_members(user_id, role), room_messages(count)",
      )
      .eq("id", roomId)
      .single();
    expect(error).toBeNull();
    expect(data).toMatchObject({
      name: "Embeds",
      creator: { display_name: "Ada" },
      room_members: [{ user_id: ada.id, role: "owner" }],
    });
    expect(
      (data as unknown as { room_messages: { count: number }[] }).room_messages[0]!.count,
    ).toBeGreaterThanOrEqual(2);

    const inner = await ada.supabase
      .from("rooms")
      .select("id, room_messages!inner(body)")
      .eq("room_messages.body", "two")
      .eq("id", roomId);
    expect(inner.data).toEqual([{ id: roomId, room_messages: [{ body: "two" }] }]);
    const innerNone = await ada.supabase
      .from("rooms")
      .select("id, room_messages!inner(body)")
      .eq("room_messages.body", "nope")
      .eq("id", roomId);
    expect(innerNone.data).toEqual([]);
    const withMessages = await ada.supabase
      .from("rooms")
      .select("id, room_messages()")
      .not("room_messages", "is", null)
      .eq("id", roomId);
    expect(withMessages.data).toEqual([{ id: roomId }]);
    const withoutMessages = await ada.supabase
      .from("rooms")
      .select("id, room_messages()")
      .is("room_messages", null)
      .eq("id", roomId);
    expect(withoutMessages.data).toEqual([]);
    const leftNone = await ada.supabase
      .from("rooms")
      .select("id, room_messages(body)")
      .eq("room_messages.body", "nope")
      .eq("id", roomId);
    expect(leftNone.data).toEqual([{ id: roomId, room_messages: [] }]);
    const ordered = await ada.supabase
      .from("rooms")
      .select("id, room_messages(body)")
      .eq("id", roomId)
      .eq("room_messages.kind", "text")
      .order("created_at", { referencedTable: "room_messages", ascending: false })
      .limit(1, { referencedTable: "room_messages" });
    expect(ordered.data).toEqual([{ id: roomId, room_messages: [{ body: "two" }] }]);
  });

  it("when embedding through a junction table, then many-to-many rows come back; unhinted it is ambiguous", async () => {
    const ada = await signUp(stack, "Ada");
    const roomId = await privateRoom(ada, "M2M");
    const { data, error } = await ada.supabase
      .from("rooms")
      .select("id, members:profiles!room_members(display_name)")
      .eq("id", roomId)
      .single();
    expect(error).toBeNull();
    expect(data).toEqual({ id: roomId, members: [{ display_name: "Ada" }] });
    const ambiguous = await ada.supabase.from("rooms").select("id, profiles(display_name)").eq("id", roomId);
    expect(ambiguous.status).toBe(300);
    expect(ambiguous.error?.code).toBe("PGRST201");
    expect(ambiguous.error?.hint).toContain("'profiles!room_members'");
  });

  it("when the embed is ambiguous or unknown, then 300 PGRST201 / 400 PGRST200", async () => {
    const ada = await signUp(stack);
    const ambiguous = await ada.supabase.from("room_invites").select("id, profiles(display_name)");
    expect(ambiguous.status).toBe(300);
    expect(ambiguous.error?.code).toBe("PGRST201");
    const missing = await ada.supabase.from("rooms").select("id, nothing_here(id)");
    expect(missing.status).toBe(400);
    expect(missing.error?.code).toBe("PGRST200");
  });

  it("when a column or table does not exist, then 400 42703 and 404 PGRST205", async () => {
    const col = await stack.client().from("rooms").select("id, nope");
    expect(col.status).toBe(400);
    expect(col.error).toMatchObject({ code: "42703", message: "column rooms.nope does not exist" });
    const table = await stack
      .client()
      .from("roomz" as "rooms")
      .select("*");
    expect(table.status).toBe(404);
    expect(table.error).toMatchObject({
      code: "PGRST205",
      message: "Could not find the table 'roomkit.roomz' in the schema cache",
      hint: "Perhaps you meant the table 'roomkit.rooms'",
    });
  });

  it("when a filter value is not a uuid, then 400 22P02", async () => {
    const { error, status } = await stack.client().from("rooms").select("id").eq("id", "not-a-uuid");
    expect(status).toBe(400);
    expect(error?.code).toBe("22P02");
  });

  it("when the query string does not parse, then 400 PGRST100", async () => {
    const res = await roomkitFetch(stack, "/rooms?name=zz.Focus");
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe("PGRST100");
  });

  it("when an unexposed schema is asked for, then 406 PGRST106", async () => {
    const res = await roomkitFetch(stack, "/users", { headers: { "Accept-Profile": "auth" } });
    expect(res.status).toBe(406);
    expect(await res.json()).toMatchObject({ code: "PGRST106", message: "Invalid schema: auth" });
  });
});

describe("auth", () => {
  // Signs its own HS256 token: needs SUPABASE_JWT_SECRET against an external stack.
  it.skipIf(EXTERNAL_WITHOUT_JWT_SECRET)(
    "when the JWT is expired, then 401 PGRST303 with WWW-Authenticate",
    async () => {
      const { signJwt } = await import("../../packages/stack/src/jwt.ts");
      const past = Math.floor(Date.now() / 1000) - 3600;
      const token = await signJwt({ role: "authenticated", exp: past, iat: past - 60 }, {
        jwtSecret: stack.jwtSecret,
      } as never);
      const res = await roomkitFetch(stack, "/rooms", { token });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        code: "PGRST303",
        details: null,
        hint: null,
        message: "JWT expired",
      });
      expect(res.headers.get("www-authenticate")).toBe(
        'Bearer error="invalid_token", error_description="JWT expired"',
      );
    },
  );

  it("when the JWT is tampered with or malformed, then 401 PGRST301", async () => {
    const ada = await signUp(stack);
    const [h, p, s] = ada.token.split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ role: "service_role", sub: ada.id })).toString("base64url")}.${s}`;
    const res = await roomkitFetch(stack, "/rooms", { token: forged });
    expect(res.status).toBe(401);
    expect((await res.json()).code).toBe("PGRST301");
    const twoParts = await roomkitFetch(stack, "/rooms", { token: `${h}.${p}` });
    expect(twoParts.status).toBe(401);
    expect(await twoParts.json()).toMatchObject({
      code: "PGRST301",
      message: "Expected 3 parts in JWT; got 2",
    });
  });

  // Signs its own HS256 token: needs SUPABASE_JWT_SECRET against an external stack.
  it.skipIf(EXTERNAL_WITHOUT_JWT_SECRET)(
    "when a JWT names a role that does not exist, then 401 22023",
    async () => {
      const { signJwt } = await import("../../packages/stack/src/jwt.ts");
      const token = await signJwt({ role: "no_such_role" }, { jwtSecret: stack.jwtSecret } as never);
      const res = await roomkitFetch(stack, "/rooms", { token });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({
        code: "22023",
        message: 'role "no_such_role" does not exist',
      });
    },
  );

  // Signs its own HS256 token: needs SUPABASE_JWT_SECRET against an external stack.
  it.skipIf(EXTERNAL_WITHOUT_JWT_SECRET)(
    "when a JWT names a role the authenticator cannot switch to (postgres), then 403 42501 and nothing runs as it",
    async () => {
      const { signJwt } = await import("../../packages/stack/src/jwt.ts");
      const token = await signJwt({ role: "postgres" }, { jwtSecret: stack.jwtSecret } as never);
      const res = await roomkitFetch(stack, "/rooms?select=id&kind=eq.private", { token });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({
        code: "42501",
        message: 'permission denied to set role "postgres"',
      });
    },
  );

  it("when a user reads, then RLS sees their auth.uid() and no other user's rows", async () => {
    const ada = await signUp(stack, "Ada");
    const bob = await signUp(stack, "Bob");
    const roomId = await privateRoom(ada, "Ada's");
    const mine = await ada.supabase.from("rooms").select("id").eq("id", roomId);
    expect(mine.data).toEqual([{ id: roomId }]);
    const theirs = await bob.supabase.from("rooms").select("id").eq("id", roomId);
    expect(theirs.data).toEqual([]);
    // The next request on a pooled connection must not inherit Ada's role or claims.
    const anon = await stack.client().from("rooms").select("id").eq("id", roomId);
    expect(anon.data).toEqual([]);
  });
});

describe("writes", () => {
  it("when a row is inserted with select(), then 201 and the row comes back (service role: members send through send_message)", async () => {
    const ada = await signUp(stack, "Ada");
    const roomId = await privateRoom(ada);
    const admin = stack.admin();
    const { data, error, status } = await admin
      .from("room_messages")
      .insert({ room_id: roomId, sender_id: ada.id, body: "hi there" })
      .select("body, sender:profiles!sender_id(display_name)")
      .single();
    expect(error).toBeNull();
    expect(status).toBe(201);
    expect(data).toEqual({ body: "hi there", sender: { display_name: "Ada" } });
    const minimal = await admin
      .from("room_messages")
      .insert({ room_id: roomId, sender_id: ada.id, body: "again" });
    expect(minimal.status).toBe(201);
    expect(minimal.data).toBeNull();
    const rows = [
      { room_id: roomId, sender_id: ada.id, body: "a" },
      { room_id: roomId, sender_id: ada.id, body: "b", kind: "emoji" as const },
    ];
    // Keys missing from a bulk row are NULL (here: a kind the table refuses) unless missing=default.
    const nulls = await admin.from("room_messages").insert(rows);
    expect(nulls.status).toBe(400);
    expect(nulls.error?.code).toBe("23502");
    const bulk = await admin
      .from("room_messages")
      .insert(rows, { defaultToNull: false })
      .select("body, kind");
    expect(bulk.data).toEqual([
      { body: "a", kind: "text" },
      { body: "b", kind: "emoji" },
    ]);
  });

  it("when a write is not granted, then 403 42501 for a user and 401 for anon", async () => {
    const ada = await signUp(stack);
    const bob = await signUp(stack);
    const roomId = await privateRoom(ada);
    const denied = await bob.supabase
      .from("room_messages")
      .insert({ room_id: roomId, sender_id: bob.id, body: "let me in" });
    expect(denied.status).toBe(403);
    expect(denied.error?.code).toBe("42501");
    const anon = await stack.client().from("room_messages").insert({ room_id: roomId, body: "anon" });
    expect(anon.status).toBe(401);
    expect(anon.error?.code).toBe("42501");
  });

  it("when the body has an unknown column, then 400 PGRST204", async () => {
    const ada = await signUp(stack);
    const { error, status } = await ada.supabase
      .from("room_messages")
      .insert({ room_id: ada.id, nope: 1 } as never);
    expect(status).toBe(400);
    expect(error).toMatchObject({
      code: "PGRST204",
      message: "Could not find the 'nope' column of 'room_messages' in the schema cache",
    });
  });

  it("when updating and deleting, then 204 / 200 with representation and filters scope the rows", async () => {
    const ada = await signUp(stack, "Ada");
    const update = await ada.supabase.from("profiles").update({ display_name: "Ada L." }).eq("id", ada.id);
    expect(update.status).toBe(204);
    const rep = await ada.supabase
      .from("profiles")
      .update({ avatar_url: "https://example.test/a.png" })
      .eq("id", ada.id)
      .select("display_name, avatar_url")
      .single();
    expect(rep.status).toBe(200);
    expect(rep.data).toEqual({ display_name: "Ada L.", avatar_url: "https://example.test/a.png" });
    const roomId = await privateRoom(ada);
    const { data: msg } = await ada.supabase.rpc("send_message", { room_id: roomId, body: "react to me" });
    const messageId = (msg as { id: string }).id;
    await ada.supabase
      .from("message_reactions")
      .insert({ message_id: messageId, user_id: ada.id, emoji: "👍" } as never);
    const del = await ada.supabase
      .from("message_reactions")
      .delete()
      .eq("message_id", messageId)
      .select("emoji");
    expect(del.status).toBe(200);
    expect(del.data).toEqual([{ emoji: "👍" }]);
    const counted = await ada.supabase
      .from("profiles")
      .update({ display_name: "Ada" }, { count: "exact" })
      .eq("id", ada.id);
    expect(counted.count).toBe(1);
  });

  it("when maxAffected is exceeded, then 400 PGRST124 and nothing changes", async () => {
    const ada = await signUp(stack, "Ada");
    const roomId = await privateRoom(ada);
    const { data: msg } = await ada.supabase.rpc("send_message", { room_id: roomId, body: "m" });
    const messageId = (msg as { id: string }).id;
    for (const emoji of ["👍", "🎉"]) {
      await ada.supabase
        .from("message_reactions")
        .insert({ message_id: messageId, user_id: ada.id, emoji } as never);
    }
    // What postgrest-js' maxAffected(1) sends (typed only for PostgREST 13+ schemas).
    const res = await roomkitFetch(stack, `/message_reactions?message_id=eq.${messageId}`, {
      method: "DELETE",
      token: ada.token,
      headers: { Prefer: "handling=strict, max-affected=1" },
    });
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe("PGRST124");
    const left = await ada.supabase
      .from("message_reactions")
      .select("emoji", { count: "exact" })
      .eq("message_id", messageId);
    expect(left.count).toBe(2);
  });

  it("when update or delete has no filter, then 400 21000", async () => {
    const ada = await signUp(stack);
    const update = await ada.supabase.from("profiles").update({ display_name: "Everyone" }).select();
    expect(update.status).toBe(400);
    expect(update.error).toMatchObject({ code: "21000", message: "UPDATE requires a WHERE clause" });
    const del = await ada.supabase.from("message_reactions").delete();
    expect(del.status).toBe(400);
    expect(del.error).toMatchObject({ code: "21000", message: "DELETE requires a WHERE clause" });
  });

  it("when upserting reactions, then duplicates merge or are ignored", async () => {
    const ada = await signUp(stack);
    const roomId = await privateRoom(ada);
    const { data: msg } = await ada.supabase.rpc("send_message", { room_id: roomId, body: "upsert" });
    const row = { message_id: (msg as { id: string }).id, user_id: ada.id, emoji: "🎉" } as never;
    const first = await ada.supabase
      .from("message_reactions")
      .upsert(row, { ignoreDuplicates: true })
      .select("emoji");
    expect(first.status).toBe(201);
    expect(first.data).toEqual([{ emoji: "🎉" }]);
    const again = await ada.supabase
      .from("message_reactions")
      .upsert(row, { ignoreDuplicates: true })
      .select("emoji");
    expect(again.error).toBeNull();
    expect(again.data).toEqual([]);
    const dup = await ada.supabase.from("message_reactions").insert(row);
    expect(dup.status).toBe(409);
    expect(dup.error?.code).toBe("23505");
  });
});

describe("rpc", () => {
  it("when a function returns a row, then it is an object; setof/table gives an array and filters apply", async () => {
    const ada = await signUp(stack);
    const room = await ada.supabase.rpc("create_private_room", { name: "RPC room" });
    expect(room.status).toBe(200);
    expect(room.data).toMatchObject({ name: "RPC room", kind: "private" });
    const rooms = await stack.client().rpc("list_coworking_rooms").select("name").eq("name", "Study Hall");
    expect(rooms.error).toBeNull();
    expect(rooms.data).toEqual([{ name: "Study Hall" }]);
    const viaGet = await stack
      .client()
      .rpc("list_coworking_rooms", {}, { get: true, count: "exact" })
      .limit(2);
    expect(viaGet.data).toHaveLength(2);
    expect(viaGet.count).toBeGreaterThanOrEqual(5);
  });

  it("when a function returns void, then 204 with no body", async () => {
    const ada = await signUp(stack);
    const roomId = await privateRoom(ada);
    const res = await ada.supabase.rpc("mark_room_read", { room_id: roomId });
    expect(res.error).toBeNull();
    expect(res.status).toBe(204);
    expect(res.data).toBeNull();
  });

  it("when a function raises PT409 / 42501 / P0001-style errors, then the status follows the SQLSTATE", async () => {
    const ada = await signUp(stack);
    const bob = await signUp(stack);
    const roomId = await privateRoom(ada);
    const notMember = await bob.supabase.rpc("send_message", { room_id: roomId, body: "x" });
    expect(notMember.status).toBe(403);
    expect(notMember.error).toMatchObject({ code: "42501", hint: "not_member" });
    const invite = await ada.supabase.rpc("send_invite", { room_id: roomId, invitee_id: bob.id });
    expect(invite.error).toBeNull();
    const twice = await ada.supabase.rpc("send_invite", { room_id: roomId, invitee_id: bob.id });
    expect(twice.status).toBe(409);
    expect(twice.error?.code).toBe("PT409");
    const badUuid = await ada.supabase.rpc("send_message", { room_id: "nope", body: "x" });
    expect(badUuid.status).toBe(400);
    expect(badUuid.error?.code).toBe("22P02");
  });

  it("when no function matches, then 404 PGRST202 with a hint", async () => {
    const missing = await stack.client().rpc("list_coworking_roomz" as "list_coworking_rooms");
    expect(missing.status).toBe(404);
    expect(missing.error).toMatchObject({
      code: "PGRST202",
      message:
        "Could not find the function roomkit.list_coworking_roomz without parameters in the schema cache",
      hint: "Perhaps you meant to call the function roomkit.list_coworking_rooms",
    });
    const ada = await signUp(stack);
    const wrongArgs = await ada.supabase.rpc("send_message", { room: "x" } as never);
    expect(wrongArgs.status).toBe(404);
    expect(wrongArgs.error?.message).toBe(
      "Could not find the function roomkit.send_message(room) in the schema cache",
    );
  });

  it("when anon calls a function it may not execute, then 401 42501", async () => {
    const res = await stack.client().rpc("create_private_room", { name: "nope" });
    expect(res.status).toBe(401);
    expect(res.error?.code).toBe("42501");
  });
});
