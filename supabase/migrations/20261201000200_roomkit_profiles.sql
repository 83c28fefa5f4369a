-- Profiles: a user's public face in Roomkit (display name, avatar), one per auth user, created and
-- deleted by triggers on auth.users; one more profile is the AI participant, which is not an auth
-- user (it never signs in, and an app's own triggers on auth.users never see it). Apps that have
-- their own `public.profiles` keep it: Roomkit's is `roomkit.profiles`, and the two never meet.

-- tables
/** Display name and avatar per user; readable by signed-in users, editable by their owner. */
create table roomkit.profiles (
  -- An auth.users id (kept in step by the triggers below), or the AI participant's fixed id.
  id uuid primary key,
  display_name text not null check (char_length(display_name) between 1 and 50
                                    and not roomkit_private.is_blank(display_name)),
  avatar_url text check (avatar_url is null or (char_length(avatar_url) <= 2048 and avatar_url ~ '^https?://')),
  is_ai boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table roomkit.profiles is 'Display name and avatar per user; readable by signed-in users, editable by their owner.';
alter table roomkit.profiles enable row level security;

-- helpers
/** The AI participant's id (fixed, the same on every deployment; also in functions/_shared/contract.ts). */
create function roomkit_private.ai_user_id() returns uuid
language sql immutable set search_path = '' as $$
  select '00000000-0000-4000-a000-00000000a1a1'::uuid
$$;

/** A user's display name, for system messages ("Ada joined"). */
create function roomkit_private.display_name(user_id uuid) returns text
language sql stable security definer set search_path = '' as $$
  select coalesce((select p.display_name from roomkit.profiles p where p.id = display_name.user_id), 'Someone')
$$;

-- policies
create policy "Signed-in users can read profiles" on roomkit.profiles
  for select to authenticated using (true);
create policy "Users can update their own profile" on roomkit.profiles
  for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));

-- triggers
/** Trims the display name and keeps updated_at. */
create function roomkit_private.touch_profile() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.display_name := roomkit_private.trim_whitespace(new.display_name);
  new.avatar_url := nullif(roomkit_private.trim_whitespace(new.avatar_url), '');
  new.updated_at := now();
  return new;
end;
$$;
create trigger profiles_touch before insert or update on roomkit.profiles
  for each row execute function roomkit_private.touch_profile();

/**
 * Every new auth user gets a profile. The name comes from sign-up metadata or the email; metadata
 * is whatever the client sent, so anything unusable (too long, blank, not an http(s) URL) is left
 * out: this trigger must never make a sign-up fail.
 */
create function roomkit_private.handle_new_user() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  meta jsonb := case when jsonb_typeof(new.raw_user_meta_data) = 'object' then new.raw_user_meta_data else '{}' end;
  candidate text;
  name text;
  avatar text := roomkit_private.trim_whitespace(meta ->> 'avatar_url');
begin
  foreach candidate in array array[meta ->> 'display_name', meta ->> 'full_name', meta ->> 'name',
                                   split_part(coalesce(new.email, ''), '@', 1), 'Guest'] loop
    name := left(roomkit_private.trim_whitespace(candidate), 50);
    exit when not roomkit_private.is_blank(name);
  end loop;
  if avatar is null or char_length(avatar) > 2048 or avatar !~ '^https?://' then
    avatar := null;
  end if;
  insert into roomkit.profiles (id, display_name, avatar_url, is_ai)
  values (new.id, name, avatar, false)
  on conflict (id) do nothing;
  return new;
end;
$$;
create trigger roomkit_on_auth_user_created after insert on auth.users
  for each row execute function roomkit_private.handle_new_user();

/** A deleted auth user's profile goes with them (their messages stay, with no sender). */
create function roomkit_private.handle_deleted_user() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  delete from roomkit.profiles p where p.id = old.id;
  return null;
end;
$$;
create trigger roomkit_on_auth_user_deleted after delete on auth.users
  for each row execute function roomkit_private.handle_deleted_user();

-- The AI participant: a profile of its own, never an auth user.
insert into roomkit.profiles (id, display_name, is_ai) values (roomkit_private.ai_user_id(), 'Roomkit AI', true)
on conflict (id) do nothing;
-- Users created before Roomkit was installed get their profile too.
insert into roomkit.profiles (id, display_name, is_ai)
select u.id, case when roomkit_private.is_blank(u.name) then 'Guest' else u.name end, false
from (select a.id, left(roomkit_private.trim_whitespace(split_part(coalesce(a.email, ''), '@', 1)), 50) as name
      from auth.users a) u
on conflict (id) do nothing;

-- grants
grant all on roomkit.profiles to service_role;
grant select on roomkit.profiles to authenticated;
grant update (display_name, avatar_url) on roomkit.profiles to authenticated;
grant execute on function roomkit_private.ai_user_id() to anon, authenticated, service_role;
grant execute on function roomkit_private.display_name(uuid) to authenticated, service_role;
