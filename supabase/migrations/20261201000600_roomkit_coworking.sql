-- Coworking rooms: a public lobby with live counts, join and leave with a capacity that never
-- overbooks, moderation (remove_member as the service role), each participant's microphone, and
-- the expiry of participants who went away without leaving (a closed tab sends nothing): open
-- sessions send a heartbeat, and roomkit_private.expire_participants(), run by the `sweep` function
-- on a schedule (pg_cron in production, the local stack's timer here), ends the others.
-- Rooms are seeded (supabase/seed.sql) or created by operators with the service role; making one
-- inactive ends every membership in it.

-- indexes
create index room_members_active_seen_idx on roomkit.room_members (last_seen_at) where left_at is null;

-- functions
/**
 * Joins a coworking room, never beyond its capacity: the room row is locked, so concurrent joins
 * queue and each sees the count the previous one left. Idempotent for someone already in.
 * Posts "<name> joined". Errors: 404 room_not_found; 409 room_inactive / room_full; 403 forbidden
 * within 15 minutes of being removed by a moderator.
 */
create function roomkit_private.join_coworking_room(room_id uuid) returns roomkit.room_members
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  room roomkit.rooms := roomkit_private.lock_room(join_coworking_room.room_id);
  member roomkit.room_members;
  occupied integer;
begin
  if room.id is null or room.kind <> 'coworking' then
    perform roomkit_private.room_not_found();
  end if;
  select * into member from roomkit.room_members m where m.room_id = room.id and m.user_id = uid;
  if member.left_at is null and member.user_id is not null then
    return member;
  end if;
  if member.removed_until > now() then
    raise exception using errcode = '42501', message = 'You were removed from this room and cannot rejoin yet',
      hint = 'forbidden';
  end if;
  if room.status <> 'active' then
    raise exception using errcode = 'PT409', message = 'This room is closed', hint = 'room_inactive';
  end if;
  select count(*) into occupied from roomkit.room_members m where m.room_id = room.id and m.left_at is null;
  if occupied >= room.capacity then
    raise exception using errcode = 'PT409', message = format('%s is full (%s/%s)', room.name, occupied, room.capacity),
      hint = 'room_full';
  end if;
  insert into roomkit.room_members as m (room_id, user_id, role)
  values (room.id, uid, 'member')
  on conflict on constraint room_members_pkey do update
    set left_at = null, joined_at = now(), mic_enabled = false, voice_connected = false, last_read_at = now(),
        last_seen_at = now(), removed_until = null
  returning * into member;
  perform roomkit_private.post_system_message(room.id, roomkit_private.display_name(uid) || ' joined', 'joined', uid);
  return member;
end;
$$;

/** Active coworking rooms with their live participant counts: the public lobby. */
create function roomkit_private.list_coworking_rooms()
returns table (id uuid, name text, description text, capacity integer, status roomkit.room_status,
               participant_count integer)
language sql stable security definer set search_path = '' as $$
  select r.id, r.name, r.description, r.capacity, r.status,
         (select count(*)::integer from roomkit.room_members m where m.room_id = r.id and m.left_at is null)
  from roomkit.rooms r
  where r.kind = 'coworking' and r.status = 'active'
  order by r.name
$$;

/** Turns the caller's microphone on or off in a coworking room they are in. Errors: 403 not_member; 400 invalid_input. */
create function roomkit_private.set_mic(room_id uuid, enabled boolean) returns roomkit.room_members
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  member roomkit.room_members;
begin
  if set_mic.enabled is null then
    perform roomkit_private.invalid_input('enabled must be true or false');
  end if;
  update roomkit.room_members m set mic_enabled = set_mic.enabled
  where m.room_id = set_mic.room_id and m.user_id = uid and m.left_at is null
  returning * into member;
  if not found then
    perform roomkit_private.not_member();
  end if;
  if not exists (select 1 from roomkit.rooms r where r.id = set_mic.room_id and r.kind = 'coworking') then
    perform roomkit_private.invalid_input('The microphone is only for coworking rooms');
  end if;
  return member;
end;
$$;

/** The caller is still here (an open session calls this every 20 s). Errors: 403 not_member. */
create function roomkit_private.heartbeat(room_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
begin
  update roomkit.room_members m set last_seen_at = now()
  where m.room_id = heartbeat.room_id and m.user_id = uid and m.left_at is null;
  if not found then
    perform roomkit_private.not_member();
  end if;
end;
$$;

/**
 * Ends the membership of every coworking participant who has sent no heartbeat for
 * limits.participant_timeout_seconds and has no voice connection, with the usual "<name> left".
 * Returns how many. Who: the service role (the `sweep` function).
 */
create function roomkit_private.expire_participants() returns integer
language plpgsql security definer set search_path = '' as $$
declare
  timeout interval := make_interval(secs => (select l.participant_timeout_seconds from roomkit_private.limits l));
  gone record;
  room roomkit.rooms;
  expired integer := 0;
begin
  for gone in
    select m.room_id, m.user_id from roomkit.room_members m join roomkit.rooms r on r.id = m.room_id
    where m.left_at is null and r.kind = 'coworking' and not m.voice_connected and m.last_seen_at < now() - timeout
    order by m.room_id
  loop
    room := roomkit_private.lock_room(gone.room_id);
    -- Re-checked under the room lock: a heartbeat or a leave may have come in meanwhile.
    if exists (select 1 from roomkit.room_members m
               where m.room_id = gone.room_id and m.user_id = gone.user_id and m.left_at is null
                 and not m.voice_connected and m.last_seen_at < now() - timeout) then
      perform roomkit_private.end_membership(room, gone.user_id, 'left', 'left');
      expired := expired + 1;
    end if;
  end loop;
  return expired;
end;
$$;

create function roomkit.join_coworking_room(room_id uuid) returns roomkit.room_members
language sql set search_path = '' as $$
  select roomkit_private.join_coworking_room(join_coworking_room.room_id)
$$;
create function roomkit.list_coworking_rooms()
returns table (id uuid, name text, description text, capacity integer, status roomkit.room_status,
               participant_count integer)
language sql stable set search_path = '' as $$
  select * from roomkit_private.list_coworking_rooms()
$$;
create function roomkit.set_mic(room_id uuid, enabled boolean) returns roomkit.room_members
language sql set search_path = '' as $$
  select roomkit_private.set_mic(set_mic.room_id, set_mic.enabled)
$$;
create function roomkit.heartbeat(room_id uuid) returns void language sql set search_path = '' as $$
  select roomkit_private.heartbeat(heartbeat.room_id)
$$;

-- triggers
/** A coworking room made inactive ends every membership in it (voice goes with them). */
create function roomkit_private.close_coworking_room() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  member record;
begin
  for member in
    select m.user_id from roomkit.room_members m where m.room_id = new.id and m.left_at is null
  loop
    perform roomkit_private.end_membership(new, member.user_id, 'left', 'left');
  end loop;
  return null;
end;
$$;
create trigger rooms_close_coworking after update of status on roomkit.rooms
  for each row when (new.kind = 'coworking' and new.status = 'inactive' and old.status = 'active')
  execute function roomkit_private.close_coworking_room();

-- grants
grant execute on function roomkit_private.join_coworking_room(uuid), roomkit_private.set_mic(uuid, boolean),
  roomkit_private.heartbeat(uuid)
  to authenticated, service_role;
grant execute on function roomkit_private.expire_participants() to service_role;
grant execute on function roomkit_private.list_coworking_rooms() to anon, authenticated, service_role;
grant execute on function roomkit.join_coworking_room(uuid), roomkit.set_mic(uuid, boolean), roomkit.heartbeat(uuid)
  to authenticated, service_role;
grant execute on function roomkit.list_coworking_rooms() to anon, authenticated, service_role;
