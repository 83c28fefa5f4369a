-- Roomkit: enum types and the private schema for helpers that policies call.
-- Error convention for every Roomkit SQL function: SQLSTATE picks the HTTP status through
-- PostgREST's mapping (42501 → 401/403, 22023 → 400, PT404 → 404, PT409 → 409), and HINT
-- carries the machine-readable Roomkit error code (room_full, not_member …). Tests assert both.

create type public.room_kind as enum ('private', 'coworking');
create type public.room_status as enum ('active', 'inactive');
create type public.ai_mode as enum ('off', 'mention', 'always');
create type public.member_role as enum ('owner', 'admin', 'member');
create type public.invite_status as enum ('pending', 'accepted', 'declined', 'revoked', 'expired');
create type public.message_kind as enum ('text', 'emoji', 'system', 'ai');

-- Helpers live here: usable by policies, never exposed over the Data API.
create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to anon, authenticated, service_role;

-- Functions are not callable by the API roles unless granted right under their definition.
-- Postgres gives EXECUTE to PUBLIC on every new function by a built-in, global default, and a
-- per-schema REVOKE cannot take a global default away: only a global one can (ALTER DEFAULT
-- PRIVILEGES docs). The per-schema lines undo the API roles' per-schema grants Supabase sets up.
alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from public, anon, authenticated;
alter default privileges in schema private revoke execute on functions from public, anon, authenticated;
