/**
 * Schema lint from pg_catalog: rules from DESIGN.md §4 and STYLE.md (SQL) that a migration can
 * break silently. Tables and functions are discovered, so migrations added later are covered.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";

/**
 * Functions in `roomkit` that `anon` may execute on purpose (the public coworking lobby).
 * Everything else in roomkit is for signed-in users or the service role only.
 */
const ANON_CALLABLE = ["list_coworking_rooms"];

/** Calls that must be wrapped as `(select …)` in policies so Postgres evaluates them once per statement. */
const PER_STATEMENT_CALLS = ["auth.uid()", "auth.jwt()", "auth.role()", "realtime.topic()"];

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

describe("schema lint", () => {
  it("when a table is in roomkit, then it has row level security enabled and at least one policy", async () => {
    const rows = await db.sql<{ table: string; rls: boolean; policies: number }[]>`
      select c.relname as table, c.relrowsecurity as rls,
             (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'roomkit' and c.relkind in ('r', 'p')
      order by 1`;
    expect(rows.length).toBeGreaterThanOrEqual(6);
    expect(rows.filter((r) => !r.rls || r.policies === 0)).toEqual([]);
  });

  it("when a view is in roomkit, then it runs with the caller's rights (security_invoker)", async () => {
    const views = await db.sql<{ view: string; options: string[] | null }[]>`
      select c.relname as view, c.reloptions as options from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'roomkit' and c.relkind in ('v', 'm')`;
    expect(
      views.filter((v) => !(v.options ?? []).some((o) => /^security_invoker=(true|on|1)$/i.test(o))),
    ).toEqual([]);
  });

  it("when a function in roomkit or roomkit_private is security definer, then it pins search_path", async () => {
    const rows = await db.sql<{ fn: string; config: string[] | null }[]>`
      select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as fn,
             p.proconfig as config
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('roomkit', 'roomkit_private') and p.prosecdef
      order by 1`;
    expect(rows.length).toBeGreaterThan(10);
    const unpinned = rows.filter((r) => !(r.config ?? []).some((c) => c.startsWith("search_path=")));
    expect(unpinned.map((r) => r.fn)).toEqual([]);
  });

  it("when a policy calls auth.uid(), auth.jwt(), auth.role() or realtime.topic(), then the call is wrapped in a select", async () => {
    const policies = await db.sql<{ name: string; expr: string }[]>`
      select schemaname || '.' || tablename || ': ' || policyname as name,
             coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr
      from pg_policies where schemaname in ('roomkit', 'realtime', 'roomkit_private')`;
    expect(policies.length).toBeGreaterThan(10);
    const offenders = policies.flatMap((p) => {
      // Postgres prints `(select auth.uid())` back as `( SELECT auth.uid() AS uid)`.
      const unwrapped = p.expr.replace(
        /\(\s*SELECT\s+(auth\.(uid|jwt|role)|realtime\.topic)\(\)\s+AS\s+\w+\s*\)/gi,
        "",
      );
      return PER_STATEMENT_CALLS.filter((call) => unwrapped.includes(call)).map(
        (call) => `${p.name} calls ${call}`,
      );
    });
    expect(offenders).toEqual([]);
  });

  it("when a function is in roomkit, then neither PUBLIC nor anon may execute it unless it is meant for the lobby", async () => {
    const rows = await db.sql<{ fn: string; name: string; anon: boolean; public_grant: boolean }[]>`
      select p.oid::regprocedure::text as fn, p.proname as name,
             has_function_privilege('anon', p.oid, 'execute') as anon,
             exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                     where a.grantee = 0 and a.privilege_type = 'EXECUTE') as public_grant
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'roomkit' and p.prokind in ('f', 'p')
      order by 1`;
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((r) => r.public_grant).map((r) => r.fn)).toEqual([]);
    expect(rows.filter((r) => r.anon && !ANON_CALLABLE.includes(r.name)).map((r) => r.fn)).toEqual([]);
    // The intended ones really are callable: the lobby works signed out.
    expect(rows.filter((r) => ANON_CALLABLE.includes(r.name) && r.anon).map((r) => r.name)).toEqual(
      ANON_CALLABLE,
    );
  });

  it("when a function in roomkit_private is executable by anon, then it is one of the policy helpers", async () => {
    // Policies run their helpers with the caller's rights; anything else in private is for
    // security definer functions and the service role.
    const helpers = await db.sql<{ name: string }[]>`
      select distinct m[1] as name
      from pg_policies, regexp_matches(coalesce(qual, '') || ' ' || coalesce(with_check, ''), 'roomkit_private\\.(\\w+)\\(', 'g') as m`;
    const used = new Set(helpers.map((h) => h.name));
    // Check constraints and the rooms/profiles triggers call trim_whitespace with the writer's rights;
    // ai_user_id is a constant the client may also use.
    used.add("trim_whitespace");
    used.add("is_blank");
    // Called by my_room_ids and is_room_member, which the policies call with the caller's rights.
    used.add("session_is_live");
    // The lobby RPC is security invoker over its implementation, so anon executes both.
    for (const name of ANON_CALLABLE) used.add(name);
    used.add("ai_user_id");
    const rows = await db.sql<{ fn: string; name: string }[]>`
      select p.oid::regprocedure::text as fn, p.proname as name
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'roomkit_private' and has_function_privilege('anon', p.oid, 'execute')
      order by 1`;
    expect(rows.filter((r) => !used.has(r.name)).map((r) => r.fn)).toEqual([]);
  });

  it("when a policy filters on a user or room id column, then an index leads with that column", async () => {
    // Best effort: columns named *_id (and id) that a policy's expression mentions. Partial indexes
    // count only for the active-membership predicate every membership check uses.
    const rows = await db.sql<{ table: string; column: string; indexed: boolean }[]>`
      with policy_text as (
        select c.oid as relid, c.relname, coalesce(p.qual, '') || ' ' || coalesce(p.with_check, '') as expr
        from pg_policies p
        join pg_class c on c.relname = p.tablename
        join pg_namespace n on n.oid = c.relnamespace and n.nspname = p.schemaname
        where p.schemaname = 'roomkit'
      ),
      filtered as (
        select distinct pt.relid, pt.relname, a.attname, a.attnum
        from policy_text pt
        join pg_attribute a on a.attrelid = pt.relid and a.attnum > 0 and not a.attisdropped
        where (a.attname like '%\\_id' or a.attname = 'id')
          and pt.expr ~ ('\\m' || a.attname || '\\M')
      )
      select f.relname as table, f.attname as column,
             exists (
               select 1 from pg_index i
               where i.indrelid = f.relid and i.indkey[0] = f.attnum
                 and (i.indpred is null or pg_get_expr(i.indpred, i.indrelid) = '(left_at IS NULL)')
             ) as indexed
      from filtered f order by 1, 2`;
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.filter((r) => !r.indexed).map((r) => `${r.table}.${r.column}`)).toEqual([]);
  });

  it("when a foreign key points at rooms or profiles, then its column is indexed (deletes cascade without scans)", async () => {
    const rows = await db.sql<{ fk: string; indexed: boolean }[]>`
      select c.conrelid::regclass::text || '.' || a.attname as fk,
             exists (select 1 from pg_index i where i.indrelid = c.conrelid and i.indkey[0] = c.conkey[1]
                     and i.indpred is null) as indexed
      from pg_constraint c
      join pg_namespace n on n.oid = c.connamespace
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
      where c.contype = 'f' and n.nspname = 'roomkit' and array_length(c.conkey, 1) = 1
      order by 1`;
    expect(rows.filter((r) => !r.indexed).map((r) => r.fk)).toEqual([]);
  });

  it("when Roomkit is installed, then nothing of it is in public (an app's own profiles, rooms or messages never clash)", async () => {
    const [row] = await db.sql<{ objects: string[] }[]>`
      select coalesce(array_agg(name order by name), '{}') as objects from (
        select c.relname::text as name from pg_class c where c.relnamespace = 'public'::regnamespace
        union all select p.proname::text from pg_proc p where p.pronamespace = 'public'::regnamespace
        union all select t.typname::text from pg_type t
          where t.typnamespace = 'public'::regnamespace and t.typtype in ('e', 'c', 'd')
            and not exists (select 1 from pg_class c where c.reltype = t.oid)
      ) o`;
    expect(row?.objects).toEqual([]);
  });

  it("when a function is in the exposed schema, then it is security invoker (splinter 0028/0029)", async () => {
    const rows = await db.sql<{ fn: string }[]>`
      select p.oid::regprocedure::text as fn from pg_proc p
      where p.pronamespace = 'roomkit'::regnamespace and p.prosecdef order by 1`;
    expect(rows.map((r) => r.fn)).toEqual([]);
  });

  it("when any Roomkit function is defined, then it pins search_path (splinter 0011)", async () => {
    const rows = await db.sql<{ fn: string; config: string[] | null }[]>`
      select p.oid::regprocedure::text as fn, p.proconfig as config from pg_proc p
      where p.pronamespace in ('roomkit'::regnamespace, 'roomkit_private'::regnamespace) order by 1`;
    expect(rows.length).toBeGreaterThan(30);
    expect(
      rows.filter((r) => !(r.config ?? []).some((c) => c.startsWith("search_path="))).map((r) => r.fn),
    ).toEqual([]);
  });

  it("when a Roomkit table has policies, then at most one permissive policy per role and command (splinter 0006)", async () => {
    const rows = await db.sql<{ clash: string }[]>`
      select p.tablename || ' ' || r.role || ' ' || c.cmd || ': ' || string_agg(p.policyname, ' | ') as clash
      from pg_policies p
      cross join lateral unnest(p.roles) as r(role)
      cross join lateral (select unnest(case when p.cmd = 'ALL' then array['SELECT','INSERT','UPDATE','DELETE']
                                             else array[p.cmd] end) as cmd) c
      where p.schemaname = 'roomkit' and p.permissive = 'PERMISSIVE'
      group by p.tablename, r.role, c.cmd having count(*) > 1`;
    expect(rows.map((r) => r.clash)).toEqual([]);
  });
});
