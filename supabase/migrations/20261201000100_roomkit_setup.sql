-- Roomkit setup: its two schemas, default privileges, and the helpers every domain uses.
--
-- Roomkit is added to existing Supabase projects, so nothing of it lives in `public`:
--   `roomkit`          tables, enum types and RPCs the Data API exposes (add it to `[api] schemas`);
--   `roomkit_private`  helpers, internal tables and the implementations of the RPCs (never exposed).
-- Exposed RPCs are `security invoker` one-liners over a `security definer` implementation in
-- roomkit_private, so no security-definer function is reachable from the API directly.
--
-- Errors: every Roomkit SQL function raises with a deliberate SQLSTATE, which PostgREST maps to the
-- HTTP status (42501 → 403, or 401 for not_authenticated; 22023 → 400; PT404 → 404; PT409 → 409;
-- PT429 → 429), and a HINT holding the Roomkit error code (room_full, not_member …). The codes and
-- their statuses are listed once, in functions/_shared/contract.ts; test/contract.test.ts reads
-- every raise in these migrations from the catalog and checks it against that list.

create schema roomkit;
comment on schema roomkit is 'Roomkit: rooms, membership, invites, messages (exposed through the Data API).';
create schema roomkit_private;
comment on schema roomkit_private is 'Roomkit internals: helpers, queues, voice state (never exposed).';

revoke all on schema roomkit, roomkit_private from public;
grant usage on schema roomkit to anon, authenticated, service_role;
grant usage on schema roomkit_private to anon, authenticated, service_role;

-- Functions are not callable by the API roles unless granted at the end of their migration.
-- Postgres gives EXECUTE to PUBLIC on every new function by a built-in, global default that only a
-- global ALTER DEFAULT PRIVILEGES can take away (a per-schema one cannot); the per-schema lines
-- undo the grants Supabase's own default privileges give the API roles.
alter default privileges revoke execute on functions from public;
alter default privileges in schema roomkit revoke execute on functions from public, anon, authenticated;
alter default privileges in schema roomkit_private revoke execute on functions from public, anon, authenticated;
alter default privileges in schema roomkit revoke all on tables from anon, authenticated;
alter default privileges in schema roomkit_private revoke all on tables from anon, authenticated;

-- tables
/**
 * Per-user limits on what costs others something, and how long a silent coworking participant
 * stays (one row; operators change it with plain SQL). A refusal is 429 rate_limited (SQLSTATE
 * PT429) with a message naming the limit.
 */
create table roomkit_private.limits (
  id boolean primary key default true check (id),
  rooms_per_hour integer not null default 20 check (rooms_per_hour > 0),
  invites_per_hour integer not null default 60 check (invites_per_hour > 0),
  -- A coworking participant with neither a heartbeat for this long nor a voice connection has gone.
  participant_timeout_seconds integer not null default 45 check (participant_timeout_seconds between 1 and 3600)
);
comment on table roomkit_private.limits is 'One row: per-user limits on room creation and invites per hour; the coworking participant timeout.';
insert into roomkit_private.limits default values;
alter table roomkit_private.limits enable row level security;
-- No policies: only Roomkit's security-definer functions and the service role read it.

-- helpers
/**
 * Is the text empty once whitespace and invisible characters are taken away? Catches names and
 * messages made only of spaces, tabs, no-break spaces, zero-width characters, format characters,
 * fillers and blank braille cells. Used by checks, so it runs with the writer's rights.
 */
create function roomkit_private.is_blank(value text) returns boolean
language sql immutable parallel safe set search_path = '' as $$
  select regexp_replace(coalesce(is_blank.value, ''),
    '[[:space:]\u0085\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u17b4\u17b5\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0]',
    '', 'g') = ''
$$;

/** The text without leading and trailing whitespace or invisible characters (btrim only strips ' '). */
create function roomkit_private.trim_whitespace(value text) returns text
language sql immutable parallel safe set search_path = '' as $$
  select regexp_replace(trim_whitespace.value,
    '^[[:space:]\u0085\u00a0\u00ad\u034f\u061c\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]+|[[:space:]\u0085\u00a0\u00ad\u034f\u061c\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]+$',
    '', 'g')
$$;

/** The caller's id, or 42501 not_authenticated: the first line of every function that acts for a user. */
create function roomkit_private.require_user() returns uuid
language plpgsql stable set search_path = '' as $$
declare
  uid uuid := auth.uid();
begin
  if uid is null then
    raise exception using errcode = '42501', message = 'You must be signed in', hint = 'not_authenticated';
  end if;
  return uid;
end;
$$;

/** 22023 invalid_input with a human message, for arguments the table checks would reject less clearly. */
create function roomkit_private.invalid_input(message text) returns void
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = '22023', message = invalid_input.message, hint = 'invalid_input';
end;
$$;

/**
 * Is the caller's Auth session still alive? Access tokens are stateless JWTs valid until they
 * expire, but Supabase Auth deletes the `auth.sessions` row on sign-out: checking it makes a
 * signed-out token useless for reads and realtime joins at once. Tokens without a `session_id`
 * are not issued by Auth to users; only holders of the JWT secret (server code) mint them.
 */
create function roomkit_private.session_is_live() returns boolean
language sql stable security definer set search_path = '' as $$
  select case
    when (select auth.jwt() ->> 'session_id') is null then true
    else exists (select 1 from auth.sessions s
                 where s.id = (select auth.jwt() ->> 'session_id')::uuid and (s.not_after is null or s.not_after > now()))
  end
$$;

/** 429 rate_limited with a message naming the limit. */
create function roomkit_private.rate_limited(message text) returns void
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = 'PT429', message = rate_limited.message, hint = 'rate_limited';
end;
$$;

/** Is the caller the service role (a system actor: functions acting for Roomkit, operators)? */
create function roomkit_private.is_service() returns boolean
language sql stable set search_path = '' as $$
  select coalesce(auth.role(), '') = 'service_role'
$$;

grant execute on function roomkit_private.is_blank(text), roomkit_private.trim_whitespace(text)
  to anon, authenticated, service_role;
-- grants
revoke all on roomkit_private.limits from public, anon, authenticated;
grant select, update on roomkit_private.limits to service_role;
grant execute on function roomkit_private.session_is_live() to anon, authenticated, service_role;
grant execute on function roomkit_private.require_user(), roomkit_private.invalid_input(text),
  roomkit_private.rate_limited(text), roomkit_private.is_service()
  to authenticated, service_role;
