-- Rooms and membership: the core both kinds of room share. A private room is invite-only chat with
-- owner/admin/member roles and an optional AI participant; a coworking room is publicly listed,
-- has a capacity and voice (its own migrations). Membership keeps history: leaving sets left_at.
--
-- Lock order, for every function that changes a room or its members: the room row first
-- (roomkit_private.lock_room), then member rows, then invites. One order means no deadlock.

-- types
create type roomkit.room_kind as enum ('private', 'coworking');
create type roomkit.room_status as enum ('active', 'inactive');
create type roomkit.ai_mode as enum ('off', 'mention', 'always');
create type roomkit.member_role as enum ('owner', 'admin', 'member');

-- tables
/** A room: private (invite-only chat, optional AI) or coworking (public, capacity, voice). */
create table roomkit.rooms (
  id uuid primary key default gen_random_uuid(),
  kind roomkit.room_kind not null,
  name text not null check (char_length(name) between 1 and 100 and not roomkit_private.is_blank(name)),
  description text check (description is null or char_length(description) <= 500),
  capacity integer check (capacity between 1 and 500),
  status roomkit.room_status not null default 'active',
  ai_mode roomkit.ai_mode,
  -- Advances whenever a membership ends; realtime topics carry it (realtime migration), so a former
  -- member's open channel stops receiving the moment it changes.
  epoch integer not null default 1,
  created_by uuid references roomkit.profiles (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint rooms_capacity_only_coworking check ((kind = 'coworking') = (capacity is not null)),
  constraint rooms_ai_only_private check ((kind = 'private') = (ai_mode is not null))
);
comment on table roomkit.rooms is 'Rooms of both kinds. Private rooms are visible to members and invitees; coworking rooms to everyone.';
alter table roomkit.rooms enable row level security;

/** Who is (or was) in a room. Active = left_at is null; the row stays as history after leaving. */
create table roomkit.room_members (
  room_id uuid not null references roomkit.rooms (id) on delete cascade,
  user_id uuid not null references roomkit.profiles (id) on delete cascade,
  role roomkit.member_role not null default 'member',
  joined_at timestamptz not null default now(),
  left_at timestamptz,
  mic_enabled boolean not null default false,
  voice_connected boolean not null default false,
  -- Coworking: the participant's last heartbeat (roomkit.heartbeat, sent by open sessions).
  last_seen_at timestamptz not null default now(),
  last_read_at timestamptz not null default now(),
  -- Coworking: a participant removed by a moderator cannot rejoin before this.
  removed_until timestamptz,
  primary key (room_id, user_id),
  constraint room_members_mic_only_while_in check (left_at is null or not (mic_enabled or voice_connected))
);
comment on table roomkit.room_members is 'Membership with history. Written only by Roomkit''s SQL functions.';
alter table roomkit.room_members enable row level security;

-- indexes
create index rooms_kind_status_idx on roomkit.rooms (kind, status);
create index rooms_created_by_idx on roomkit.rooms (created_by, created_at);
-- "My rooms" (the policies' set) reads only the index; deleting a user cascades through user_id.
create index room_members_user_idx on roomkit.room_members (user_id, room_id) include (left_at);
create index room_members_room_active_idx on roomkit.room_members (room_id) where left_at is null;
-- At most one owner per room, whatever the interleaving.
create unique index room_members_one_owner_idx on roomkit.room_members (room_id) where role = 'owner';

-- helpers
/**
 * The rooms the caller is an active member of. Policies compare with this set once per statement
 * (`room_id = any (array(select roomkit_private.my_room_ids()))`) instead of calling a helper per
 * row: at a million messages that is the difference between milliseconds and seconds.
 * Empty for a token whose Auth session has ended (signed out).
 */
create function roomkit_private.my_room_ids() returns setof uuid
language sql stable security definer set search_path = '' rows 20 as $$
  select m.room_id from roomkit.room_members m
  where m.user_id = (select auth.uid()) and m.left_at is null and roomkit_private.session_is_live()
$$;

/** Every coworking room (public by nature), as a set for policies. */
create function roomkit_private.coworking_room_ids() returns setof uuid
language sql stable security definer set search_path = '' rows 10 as $$
  select r.id from roomkit.rooms r where r.kind = 'coworking'
$$;

/** Is the caller an active member of the room? (One room: functions, realtime policies.) */
create function roomkit_private.is_room_member(room_id uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (
    select 1 from roomkit.room_members m
    where m.room_id = is_room_member.room_id and m.user_id = (select auth.uid()) and m.left_at is null)
    and roomkit_private.session_is_live()
$$;

/** Does the caller hold one of the roles in the room (active membership)? */
create function roomkit_private.has_room_role(room_id uuid, roles roomkit.member_role[]) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (
    select 1 from roomkit.room_members m
    where m.room_id = has_room_role.room_id and m.user_id = (select auth.uid()) and m.left_at is null
      and m.role = any (has_room_role.roles))
$$;

/** Locks the room row (the first lock of every function that changes a room or its members). Null if none. */
create function roomkit_private.lock_room(room_id uuid) returns roomkit.rooms
language sql security definer set search_path = '' as $$
  select * from roomkit.rooms r where r.id = lock_room.room_id for update
$$;

/** 404 room_not_found. */
create function roomkit_private.room_not_found() returns void
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = 'PT404', message = 'Room not found', hint = 'room_not_found';
end;
$$;

/** 403 not_member: the caller is not (or no longer) in the room. */
create function roomkit_private.not_member() returns void
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = '42501', message = 'You are not in this room', hint = 'not_member';
end;
$$;

/** 404 member_not_found: the member an action is about is not in the room. */
create function roomkit_private.member_not_found() returns void
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = 'PT404', message = 'That user is not in the room', hint = 'member_not_found';
end;
$$;

/** Writes a system message ("Ada joined") into a room; the messages migration defines the table. */
create function roomkit_private.post_system_message(room_id uuid, body text, event text, actor_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
begin
  insert into roomkit.room_messages (room_id, sender_id, kind, body, metadata)
  values (post_system_message.room_id, null, 'system', post_system_message.body,
          jsonb_build_object('event', post_system_message.event, 'user_id', post_system_message.actor_id));
end;
$$;

/**
 * Ends an active membership (leave, removal, expiry): mic and voice off, ownership handed on.
 * Private rooms: an owner's ownership passes to the longest-standing admin, else the longest-standing
 * member; when nobody is left the room is deleted. Posts "<name> <verb>" otherwise, then advances the
 * room's epoch (the realtime topics the remaining members move to).
 * The room must already be locked by the caller. Returns false when the room was deleted.
 */
create function roomkit_private.end_membership(room roomkit.rooms, user_id uuid, event text, verb text,
                                              removed_until timestamptz default null)
returns boolean language plpgsql security definer set search_path = '' as $$
declare
  former roomkit.room_members;
  heir uuid;
begin
  update roomkit.room_members m
  set left_at = now(), mic_enabled = false, voice_connected = false, removed_until = end_membership.removed_until,
      role = case when m.role = 'owner' then 'member'::roomkit.member_role else m.role end
  where m.room_id = room.id and m.user_id = end_membership.user_id and m.left_at is null
  returning * into former;
  if former.user_id is null then
    return true;
  end if;
  -- update ... returning shows the new role: the old one was owner when no owner is left.
  if room.kind = 'private' and not exists (
       select 1 from roomkit.room_members m where m.room_id = room.id and m.role = 'owner') then
    select m.user_id into heir from roomkit.room_members m
    where m.room_id = room.id and m.left_at is null
    order by (m.role = 'admin') desc, m.joined_at, m.user_id
    limit 1;
    if heir is null then
      delete from roomkit.rooms r where r.id = room.id;
      return false;
    end if;
    update roomkit.room_members m set role = 'owner' where m.room_id = room.id and m.user_id = heir;
  end if;
  perform roomkit_private.post_system_message(room.id, roomkit_private.display_name(end_membership.user_id) || ' ' || verb,
                                              end_membership.event, end_membership.user_id);
  -- Last: everything up to the departure went to the old topics; from here on only the new ones,
  -- which the former member cannot join.
  update roomkit.rooms r set epoch = r.epoch + 1 where r.id = room.id;
  return true;
end;
$$;

-- policies
create policy "Anyone can read coworking rooms; members can read their private rooms" on roomkit.rooms
  for select to anon, authenticated
  using (kind = 'coworking' or id = any (array(select roomkit_private.my_room_ids())));
create policy "Owners and admins can rename private rooms and set their AI mode" on roomkit.rooms
  for update to authenticated
  using (kind = 'private' and roomkit_private.has_room_role(id, '{owner,admin}'))
  with check (kind = 'private' and roomkit_private.has_room_role(id, '{owner,admin}'));

create policy "Members see their rooms' members; anyone signed in sees who is in a coworking room"
  on roomkit.room_members
  for select to authenticated
  using (room_id = any (array(select roomkit_private.my_room_ids()))
         or (left_at is null and room_id = any (array(select roomkit_private.coworking_room_ids()))));

-- functions
/** Creates a private room owned by the caller (room + owner membership, one transaction). */
create function roomkit_private.create_private_room(name text, description text, ai_mode roomkit.ai_mode)
returns roomkit.rooms language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  room roomkit.rooms;
begin
  if roomkit_private.is_blank(create_private_room.name)
     or char_length(roomkit_private.trim_whitespace(create_private_room.name)) > 100 then
    perform roomkit_private.invalid_input('Room name must be 1 to 100 visible characters');
  end if;
  if char_length(roomkit_private.trim_whitespace(create_private_room.description)) > 500 then
    perform roomkit_private.invalid_input('Room description must be at most 500 characters');
  end if;
  -- Serialises this user's concurrent creations so the count below cannot be raced past.
  perform pg_advisory_xact_lock(hashtextextended('roomkit_create_room:' || uid::text, 0));
  if (select count(*) from roomkit.rooms r where r.created_by = uid and r.created_at > now() - interval '1 hour')
     >= (select l.rooms_per_hour from roomkit_private.limits l) then
    perform roomkit_private.rate_limited(format('You can create at most %s rooms an hour',
                                                (select l.rooms_per_hour from roomkit_private.limits l)));
  end if;
  insert into roomkit.rooms (kind, name, description, ai_mode, created_by)
  values ('private', create_private_room.name, create_private_room.description,
          coalesce(create_private_room.ai_mode, 'mention'), uid)
  returning * into room;
  insert into roomkit.room_members (room_id, user_id, role) values (room.id, uid, 'owner');
  return room;
end;
$$;

/**
 * Leaves a room (membership kept as history); see end_membership for owners and last members.
 * Leaving a room you already left is not an error. Errors: 403 not_member (never in it).
 */
create function roomkit_private.leave_room(room_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  room roomkit.rooms := roomkit_private.lock_room(leave_room.room_id);
begin
  if room.id is null or not exists (
       select 1 from roomkit.room_members m where m.room_id = room.id and m.user_id = uid) then
    perform roomkit_private.not_member();
  end if;
  perform roomkit_private.end_membership(room, uid, 'left', 'left');
end;
$$;

/**
 * Removes a member. Private rooms: the owner removes anyone but themselves, an admin removes plain
 * members. Coworking rooms: the service role only (moderation through the coworking function); the
 * removed participant cannot rejoin for 15 minutes.
 * Errors: 403 not_member / forbidden; 404 member_not_found.
 */
create function roomkit_private.remove_member(room_id uuid, user_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  is_service boolean := roomkit_private.is_service();
  uid uuid := case when is_service then null else roomkit_private.require_user() end;
  room roomkit.rooms := roomkit_private.lock_room(remove_member.room_id);
  target roomkit.room_members;
begin
  select * into target from roomkit.room_members m
  where m.room_id = room.id and m.user_id = remove_member.user_id and m.left_at is null;
  if not is_service then
    if room.id is null or not roomkit_private.is_room_member(room.id) then
      perform roomkit_private.not_member();
    end if;
    if room.kind <> 'private' or remove_member.user_id = uid
       or not (roomkit_private.has_room_role(room.id, '{owner}') and target.role is distinct from 'owner'
               or roomkit_private.has_room_role(room.id, '{admin}') and target.role = 'member') then
      raise exception using errcode = '42501', message = 'You may not remove this member', hint = 'forbidden';
    end if;
  end if;
  if target.user_id is null then
    perform roomkit_private.member_not_found();
  end if;
  -- Coworking rooms are open: a cooldown makes the removal stick. Private rooms need a new invite anyway.
  perform roomkit_private.end_membership(room, target.user_id, 'removed', 'was removed',
    case when room.kind = 'coworking' then now() + interval '15 minutes' end);
end;
$$;

/** Sets a member's role in a private room (admin or member). Who: the owner. */
create function roomkit_private.set_member_role(room_id uuid, user_id uuid, role roomkit.member_role)
returns roomkit.room_members language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  room roomkit.rooms := roomkit_private.lock_room(set_member_role.room_id);
  member roomkit.room_members;
begin
  if room.id is null or not roomkit_private.is_room_member(room.id) then
    perform roomkit_private.not_member();
  end if;
  if not roomkit_private.has_room_role(room.id, '{owner}') then
    raise exception using errcode = '42501', message = 'Only the owner can change roles', hint = 'forbidden';
  end if;
  if set_member_role.role = 'owner' or set_member_role.user_id = uid then
    perform roomkit_private.invalid_input('Roles can be set to admin or member, for others than yourself');
  end if;
  update roomkit.room_members m set role = set_member_role.role
  where m.room_id = room.id and m.user_id = set_member_role.user_id and m.left_at is null
  returning * into member;
  if not found then
    perform roomkit_private.member_not_found();
  end if;
  return member;
end;
$$;

/** Deletes a private room. Who: its owner. Errors: 404 room_not_found (also for outsiders); 403 forbidden. */
create function roomkit_private.delete_room(room_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  room roomkit.rooms;
begin
  perform roomkit_private.require_user();
  room := roomkit_private.lock_room(delete_room.room_id);
  if room.id is null or not roomkit_private.is_room_member(room.id) then
    perform roomkit_private.room_not_found();
  end if;
  if room.kind <> 'private' or not roomkit_private.has_room_role(room.id, '{owner}') then
    raise exception using errcode = '42501', message = 'Only the owner can delete this room', hint = 'forbidden';
  end if;
  delete from roomkit.rooms r where r.id = room.id;
end;
$$;

/** Marks the room read up to `at` (default now; never in the future, never backwards). */
create function roomkit_private.mark_room_read(room_id uuid, at timestamptz) returns void
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
begin
  update roomkit.room_members m
  set last_read_at = greatest(m.last_read_at, least(coalesce(mark_room_read.at, now()), now()))
  where m.room_id = mark_room_read.room_id and m.user_id = uid and m.left_at is null;
  if not found then
    perform roomkit_private.not_member();
  end if;
end;
$$;

-- The API: security-invoker wrappers (documented on the implementations above).
create function roomkit.create_private_room(name text, description text default null,
                                            ai_mode roomkit.ai_mode default 'mention')
returns roomkit.rooms language sql set search_path = '' as $$
  select roomkit_private.create_private_room(create_private_room.name, create_private_room.description,
                                             create_private_room.ai_mode)
$$;
create function roomkit.leave_room(room_id uuid) returns void language sql set search_path = '' as $$
  select roomkit_private.leave_room(leave_room.room_id)
$$;
create function roomkit.remove_member(room_id uuid, user_id uuid) returns void language sql set search_path = '' as $$
  select roomkit_private.remove_member(remove_member.room_id, remove_member.user_id)
$$;
create function roomkit.set_member_role(room_id uuid, user_id uuid, role roomkit.member_role)
returns roomkit.room_members language sql set search_path = '' as $$
  select roomkit_private.set_member_role(set_member_role.room_id, set_member_role.user_id, set_member_role.role)
$$;
create function roomkit.delete_room(room_id uuid) returns void language sql set search_path = '' as $$
  select roomkit_private.delete_room(delete_room.room_id)
$$;
create function roomkit.mark_room_read(room_id uuid, at timestamptz default now()) returns void
language sql set search_path = '' as $$
  select roomkit_private.mark_room_read(mark_room_read.room_id, mark_room_read.at)
$$;

-- triggers
/** Trims names, defaults the AI mode of private rooms, keeps updated_at. */
create function roomkit_private.normalize_room() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.name := roomkit_private.trim_whitespace(new.name);
  new.description := nullif(roomkit_private.trim_whitespace(new.description), '');
  if new.kind = 'private' and new.ai_mode is null then
    new.ai_mode := 'mention';
  end if;
  new.updated_at := now();
  return new;
end;
$$;
create trigger rooms_normalize before insert or update on roomkit.rooms
  for each row execute function roomkit_private.normalize_room();

-- grants
grant all on roomkit.rooms, roomkit.room_members to service_role;
grant select on roomkit.rooms to anon, authenticated;
grant update (name, description, ai_mode) on roomkit.rooms to authenticated;
grant select on roomkit.room_members to authenticated;
grant execute on function roomkit_private.my_room_ids(), roomkit_private.coworking_room_ids()
  to anon, authenticated, service_role;
grant execute on function roomkit_private.is_room_member(uuid), roomkit_private.has_room_role(uuid, roomkit.member_role[])
  to authenticated, service_role;
grant execute on function roomkit_private.create_private_room(text, text, roomkit.ai_mode),
  roomkit_private.leave_room(uuid), roomkit_private.remove_member(uuid, uuid),
  roomkit_private.set_member_role(uuid, uuid, roomkit.member_role), roomkit_private.delete_room(uuid),
  roomkit_private.mark_room_read(uuid, timestamptz)
  to authenticated, service_role;
grant execute on function roomkit.create_private_room(text, text, roomkit.ai_mode), roomkit.leave_room(uuid),
  roomkit.remove_member(uuid, uuid), roomkit.set_member_role(uuid, uuid, roomkit.member_role),
  roomkit.delete_room(uuid), roomkit.mark_room_read(uuid, timestamptz)
  to authenticated, service_role;
