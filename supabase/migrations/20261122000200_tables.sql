-- Roomkit tables. Every table has RLS enabled here; policies are in the policies migration.
-- Grants are explicit so the schema works with `auto_expose_new_tables = false` too.

/**
 * The text without leading and trailing whitespace of any kind (btrim only strips ' ': a name of
 * tabs, newlines or no-break spaces would otherwise pass as non-empty). Used by checks and triggers.
 */
create function private.trim_whitespace(value text) returns text
language sql immutable parallel safe set search_path = '' as $$
  select regexp_replace(trim_whitespace.value, '^[[:space:]\u00a0\u200b\u2060\ufeff]+|[[:space:]\u00a0\u200b\u2060\ufeff]+$', '', 'g')
$$;
-- Check constraints run it with the writer's rights.
grant execute on function private.trim_whitespace(text) to anon, authenticated, service_role;

/** A user's public face: created for every auth user by a trigger; one row is the AI participant. */
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  display_name text not null check (char_length(display_name) between 1 and 50),
  avatar_url text check (avatar_url is null or char_length(avatar_url) <= 2048),
  is_ai boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.profiles is 'Display name and avatar per user; readable by signed-in users, editable by their owner.';

/** A room: private (invite-only chat, optional AI) or coworking (public, capacity, voice). */
create table public.rooms (
  id uuid primary key default gen_random_uuid(),
  kind public.room_kind not null,
  name text not null check (char_length(name) between 1 and 100),
  description text check (description is null or char_length(description) <= 500),
  capacity integer check (capacity between 1 and 500),
  status public.room_status not null default 'active',
  ai_mode public.ai_mode,
  created_by uuid references public.profiles (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint rooms_capacity_only_coworking check ((kind = 'coworking') = (capacity is not null)),
  constraint rooms_ai_only_private check ((kind = 'private') = (ai_mode is not null))
);
comment on table public.rooms is 'Rooms of both kinds. Private rooms are visible to members and invitees; coworking rooms to everyone.';
create index rooms_kind_status_idx on public.rooms (kind, status);
create index rooms_created_by_idx on public.rooms (created_by);

/** Who is (or was) in a room. Active = left_at is null; the row stays as history after leaving. */
create table public.room_members (
  room_id uuid not null references public.rooms (id) on delete cascade,
  user_id uuid not null references public.profiles (id) on delete cascade,
  role public.member_role not null default 'member',
  joined_at timestamptz not null default now(),
  left_at timestamptz,
  mic_enabled boolean not null default false,
  voice_connected boolean not null default false,
  last_read_at timestamptz not null default now(),
  -- Coworking: a participant removed by a moderator cannot rejoin before this.
  removed_until timestamptz,
  primary key (room_id, user_id)
);
comment on table public.room_members is 'Membership with history. Written only by SQL functions; members may update their own mic and read marker.';
-- Not partial: "my rooms" filters on left_at afterwards, and deleting a user cascades through user_id.
create index room_members_user_idx on public.room_members (user_id, room_id);
create index room_members_room_active_idx on public.room_members (room_id) where left_at is null;

/** Invitations into private rooms. At most one pending invite per room and invitee. */
create table public.room_invites (
  id uuid primary key default gen_random_uuid(),
  room_id uuid not null references public.rooms (id) on delete cascade,
  inviter_id uuid references public.profiles (id) on delete set null,
  invitee_id uuid not null references public.profiles (id) on delete cascade,
  status public.invite_status not null default 'pending',
  created_at timestamptz not null default now(),
  responded_at timestamptz,
  expires_at timestamptz not null default now() + interval '7 days'
);
comment on table public.room_invites is 'Invites; written only by SQL functions. Visible to the invitee, the inviter and room members.';
create unique index room_invites_one_pending_idx on public.room_invites (room_id, invitee_id) where status = 'pending';
create index room_invites_room_idx on public.room_invites (room_id, status);
create index room_invites_invitee_idx on public.room_invites (invitee_id, status);
create index room_invites_inviter_idx on public.room_invites (inviter_id);

/** Messages. Keyset pagination newest first by (created_at, id); soft delete keeps the row. */
create table public.room_messages (
  id uuid primary key default gen_random_uuid(),
  room_id uuid not null references public.rooms (id) on delete cascade,
  sender_id uuid references public.profiles (id) on delete set null,
  kind public.message_kind not null default 'text',
  body text,
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint room_messages_body_check check (
    case
      when deleted_at is not null then body is null
      when kind = 'text' then body is not null and char_length(body) between 1 and 4000
                              and private.trim_whitespace(body) <> ''
      when kind = 'emoji' then body is not null and char_length(body) between 1 and 32
                               and private.trim_whitespace(body) <> ''
      else body is not null and char_length(body) between 1 and 16000
    end),
  constraint room_messages_system_has_no_sender check (kind <> 'system' or sender_id is null)
);
comment on table public.room_messages is 'Chat history. Members insert text/emoji as themselves; system and ai messages come from SQL functions.';
create index room_messages_page_idx on public.room_messages (room_id, created_at desc, id desc);
create index room_messages_sender_idx on public.room_messages (sender_id);

/** One row per (message, user, emoji). room_id is copied from the message by a trigger. */
create table public.message_reactions (
  message_id uuid not null references public.room_messages (id) on delete cascade,
  user_id uuid not null references public.profiles (id) on delete cascade,
  emoji text not null check (char_length(emoji) between 1 and 32 and private.trim_whitespace(emoji) <> ''),
  room_id uuid not null references public.rooms (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (message_id, user_id, emoji)
);
comment on table public.message_reactions is 'Emoji reactions. Members add and remove their own.';
create index message_reactions_room_idx on public.message_reactions (room_id);
create index message_reactions_user_idx on public.message_reactions (user_id);

alter table public.profiles enable row level security;
alter table public.rooms enable row level security;
alter table public.room_members enable row level security;
alter table public.room_invites enable row level security;
alter table public.room_messages enable row level security;
alter table public.message_reactions enable row level security;

-- The API roles get exactly the privileges the policies refine; everything else goes through functions.
revoke all on public.profiles, public.rooms, public.room_members, public.room_invites,
  public.room_messages, public.message_reactions from anon, authenticated;
grant all on public.profiles, public.rooms, public.room_members, public.room_invites,
  public.room_messages, public.message_reactions to service_role;
grant select on public.profiles to authenticated;
grant update (display_name, avatar_url) on public.profiles to authenticated;
grant select on public.rooms to anon, authenticated;
grant update (name, description, ai_mode) on public.rooms to authenticated;
grant delete on public.rooms to authenticated;
grant select on public.room_members to authenticated;
grant update (mic_enabled, last_read_at) on public.room_members to authenticated;
grant select on public.room_invites to authenticated;
grant select on public.room_messages to authenticated;
grant insert (room_id, sender_id, kind, body, metadata) on public.room_messages to authenticated;
grant select, delete on public.message_reactions to authenticated;
grant insert (message_id, user_id, emoji) on public.message_reactions to authenticated;

/** Trims names, defaults the AI mode of private rooms, keeps updated_at. */
create function private.normalize_room() returns trigger language plpgsql set search_path = '' as $$
begin
  new.name := private.trim_whitespace(new.name);
  new.description := nullif(private.trim_whitespace(new.description), '');
  if new.kind = 'private' and new.ai_mode is null then
    new.ai_mode := 'mention';
  end if;
  new.updated_at := now();
  return new;
end;
$$;
create trigger rooms_normalize before insert or update on public.rooms
  for each row execute function private.normalize_room();

/** Copies room_id from the reacted message (clients cannot choose it). */
create function private.fill_reaction_room() returns trigger language plpgsql set search_path = '' as $$
begin
  select m.room_id into new.room_id from public.room_messages m where m.id = new.message_id;
  return new;
end;
$$;
create trigger message_reactions_fill_room before insert on public.message_reactions
  for each row execute function private.fill_reaction_room();

create function private.touch_profile() returns trigger language plpgsql set search_path = '' as $$
begin
  new.display_name := private.trim_whitespace(new.display_name);
  new.updated_at := now();
  return new;
end;
$$;
create trigger profiles_touch before insert or update on public.profiles
  for each row execute function private.touch_profile();

/** Every new auth user gets a profile; the name comes from sign-up metadata or the email. */
create function private.handle_new_user() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  meta jsonb := coalesce(new.raw_user_meta_data, '{}'::jsonb);
  name text := coalesce(
    nullif(private.trim_whitespace(meta ->> 'display_name'), ''),
    nullif(private.trim_whitespace(meta ->> 'full_name'), ''),
    nullif(private.trim_whitespace(meta ->> 'name'), ''),
    nullif(split_part(coalesce(new.email, ''), '@', 1), ''),
    'Guest');
begin
  insert into public.profiles (id, display_name, avatar_url, is_ai)
  values (new.id, left(name, 50), meta ->> 'avatar_url',
          coalesce((new.raw_app_meta_data ->> 'roomkit_ai')::boolean, false))
  on conflict (id) do nothing;
  return new;
end;
$$;
create trigger on_auth_user_created after insert on auth.users
  for each row execute function private.handle_new_user();

-- The AI participant: a user that cannot sign in (no email, no password), with a profile.
insert into auth.users (instance_id, id, aud, role, raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
                        confirmation_token, recovery_token, email_change_token_new, email_change, is_anonymous)
values ('00000000-0000-0000-0000-000000000000', '00000000-0000-4000-a000-00000000a1a1', 'authenticated', 'authenticated',
        '{"provider": "roomkit", "providers": [], "roomkit_ai": true}', '{"display_name": "Roomkit AI"}', now(), now(),
        '', '', '', '', false)
on conflict (id) do nothing;

/** The AI participant's id (fixed, the same on every deployment). */
create function private.ai_user_id() returns uuid language sql immutable set search_path = '' as $$
  select '00000000-0000-4000-a000-00000000a1a1'::uuid
$$;
