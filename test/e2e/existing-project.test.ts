/**
 * Roomkit added to a Supabase project that already has its own `public.profiles` (the Supabase
 * user-management starter's, with its `on_auth_user_created` trigger), `public.rooms` and
 * `public.messages`: the README's "Adding Roomkit to your Supabase project" done literally.
 * The app's migration is pushed first with the real Supabase CLI, the app writes rows, then
 * Roomkit's migration files are copied next to it and pushed again. The app's tables must come
 * through untouched, its trigger must keep working, and a short story runs through the functions.
 */
import { cp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { type RunningStack, startStack } from "../../packages/stack/src/index.ts";
import { generateKeys } from "../../packages/stack/src/keys.ts";
import { applyMigrations, applyPlatform } from "../../packages/stack/src/migrate.ts";
import { freePort } from "../../packages/stack/src/net.ts";
import { withDatabase } from "../../packages/stack/src/postgres.ts";
import { REPO_ROOT as ROOT } from "../support/repo.ts";
import { EXTERNAL_STACK } from "../support/stack.ts";

/** The app's own schema before Roomkit: the user-management starter plus a chat of its own. */
const APP_MIGRATION = `
create table public.profiles (
  id uuid not null references auth.users on delete cascade primary key,
  updated_at timestamptz,
  username text unique,
  full_name text,
  avatar_url text,
  website text,
  constraint username_length check (char_length(username) >= 3)
);
alter table public.profiles enable row level security;
create policy "Public profiles are viewable by everyone." on public.profiles for select using (true);
create policy "Users can insert their own profile." on public.profiles for insert with check ((select auth.uid()) = id);
create policy "Users can update own profile." on public.profiles for update using ((select auth.uid()) = id);

create function public.handle_new_user() returns trigger language plpgsql security definer set search_path = '' as $$
begin
  insert into public.profiles (id, full_name, avatar_url)
  values (new.id, new.raw_user_meta_data ->> 'full_name', new.raw_user_meta_data ->> 'avatar_url');
  return new;
end;
$$;
create trigger on_auth_user_created after insert on auth.users for each row execute procedure public.handle_new_user();

create table public.rooms (id bigint generated always as identity primary key, title text not null, is_open boolean default true);
create table public.messages (
  id bigint generated always as identity primary key,
  room_id bigint references public.rooms on delete cascade,
  content text not null,
  author uuid references public.profiles
);
alter table public.rooms enable row level security;
alter table public.messages enable row level security;
create policy "Anyone reads rooms" on public.rooms for select using (true);
create policy "Anyone reads messages" on public.messages for select using (true);
`;

/** Columns and rows of the app's three tables, to compare before and after. */
async function appSnapshot(sql: postgres.Sql): Promise<unknown> {
  const columns = await sql`
    select table_name, column_name, data_type, is_nullable from information_schema.columns
    where table_schema = 'public' and table_name in ('profiles', 'rooms', 'messages') order by 1, 2`;
  const rows = await sql`
    select (select json_agg(p order by p.id) from public.profiles p) as profiles,
           (select json_agg(r order by r.id) from public.rooms r) as rooms,
           (select json_agg(m order by m.id) from public.messages m) as messages`;
  const policies =
    await sql`select tablename, policyname from pg_policies where schemaname = 'public' order by 1, 2`;
  return { columns, rows, policies };
}

async function addUser(sql: postgres.Sql, email: string, meta: Record<string, string>): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                            raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
    values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated', ${email},
            '', now(), '{"provider":"email","providers":["email"]}',
            ${sql.json(meta)}, now(), now())
    returning id`;
  return row?.id ?? "";
}

describe.skipIf(EXTERNAL_STACK)("adding Roomkit to an existing Supabase project", () => {
  const name = `existing_${Date.now().toString(36)}`;
  const serverUrl = inject("dbServerUrl");
  const dbUrl = withDatabase(serverUrl, name);
  const project = join(tmpdir(), `roomkit-existing-${process.pid}-${Date.now().toString(36)}`);
  let sql: postgres.Sql;
  let stack: RunningStack;
  let before: unknown;
  let after: unknown;
  let existingUser: string;

  beforeAll(async () => {
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    // What hosted Supabase already has (auth, realtime, roles); then the app's own history.
    await applyPlatform(dbUrl);
    const migrations = join(project, "supabase", "migrations");
    await mkdir(migrations, { recursive: true });
    await writeFile(join(project, "supabase", "config.toml"), 'project_id = "existing-app"\n');
    await writeFile(join(migrations, "20240101000000_app.sql"), APP_MIGRATION);
    await applyMigrations(dbUrl, { seed: false, projectDir: project });

    sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
    existingUser = await addUser(sql, "early@example.com", { full_name: "Early Bird" });
    await sql`update public.profiles set username = 'early', website = 'https://early.example' where id = ${existingUser}`;
    const [room] = await sql<
      { id: number }[]
    >`insert into public.rooms (title) values ('The app''s own room') returning id`;
    await sql`insert into public.messages (room_id, content, author) values (${room?.id ?? 0}, 'hello from the app', ${existingUser})`;
    before = await appSnapshot(sql);

    // Adding Roomkit: copy its migrations next to the app's, push again (no seed: the app has its own).
    for (const file of await readdir(join(ROOT, "supabase", "migrations"))) {
      await cp(join(ROOT, "supabase", "migrations", file), join(migrations, file));
    }
    await applyMigrations(dbUrl, { seed: false, projectDir: project });
    after = await appSnapshot(sql);

    stack = await startStack({
      dbUrl,
      keys: await generateKeys(),
      port: await freePort(),
      host: "127.0.0.1",
      log: () => {},
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await sql?.end();
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
    await rm(project, { recursive: true, force: true });
  });

  it("when Roomkit's migrations are pushed onto the app's, then the app's profiles, rooms and messages are untouched", async () => {
    expect(after).toEqual(before);
    const [history] = await sql<{ versions: string[] }[]>`
      select array_agg(version order by version) as versions from supabase_migrations.schema_migrations`;
    expect(history?.versions[0]).toBe("20240101000000");
    expect(history?.versions.length).toBeGreaterThan(1);
  });

  it("when a user signs up afterwards, then the app's trigger and Roomkit's both give them a profile; earlier users got one too", async () => {
    const id = await addUser(sql, "late@example.com", { full_name: "Late Comer" });
    const [app] = await sql`select full_name from public.profiles where id = ${id}`;
    const [ours] = await sql`select display_name from roomkit.profiles where id = ${id}`;
    expect(app?.full_name).toBe("Late Comer");
    expect(ours?.display_name).toBe("Late Comer");
    const [early] = await sql`select display_name from roomkit.profiles where id = ${existingUser}`;
    expect(early?.display_name).toBe("early");
  });

  it("when two users sign in, then a private room, an invite through the invites function, and a message work end to end", async () => {
    const options = {
      db: { schema: "roomkit" as const },
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
    };
    const alice = createClient(stack.apiUrl, stack.keys.anonKey, options);
    const bob = createClient(stack.apiUrl, stack.keys.anonKey, options);
    const bobEmail = `bob-${name}@example.com`;
    expect(
      (await alice.auth.signUp({ email: `alice-${name}@example.com`, password: "password-123" })).error,
    ).toBeNull();
    expect((await bob.auth.signUp({ email: bobEmail, password: "password-123" })).error).toBeNull();

    const { data: room, error } = await alice
      .rpc("create_private_room", { name: "Planning" })
      .single<{ id: string }>();
    expect(error).toBeNull();
    const invited = await alice.functions.invoke("invites", {
      body: { room_id: room?.id, invitee_email: bobEmail },
    });
    expect(invited.error).toBeNull();
    const inviteId = (invited.data as { invite: { id: string } }).invite.id;
    const accepted = await bob.functions.invoke(`invites/${inviteId}/accept`, { method: "POST" });
    expect(accepted.error).toBeNull();

    expect((await bob.rpc("send_message", { room_id: room?.id, body: "hi from Bob" })).error).toBeNull();
    const { data: history } = await alice
      .from("room_messages")
      .select("kind, body")
      .eq("room_id", room?.id ?? "");
    expect(history?.map((m) => m.body)).toContain("hi from Bob");
    // The app's own public.rooms is still what a plain `from("rooms")` on the app's client reads.
    const appClient = createClient(stack.apiUrl, stack.keys.anonKey, {
      ...options,
      db: { schema: "public" },
    });
    const { data: appRooms } = await appClient.from("rooms").select("title");
    expect(appRooms).toEqual([{ title: "The app's own room" }]);
  });
});
