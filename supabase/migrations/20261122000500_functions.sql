-- Operations that must be atomic or check several rows, callable with supabase-js `rpc`.
-- Each acts for the signed-in caller (auth.uid()) and is `security definer` only because it
-- writes tables the caller may not write directly; it checks the caller's rights itself.
-- Errors: see the types migration (SQLSTATE → HTTP status, HINT = Roomkit error code).

/** Writes a system message ("Ada joined") into a room. Internal. */
create function private.post_system_message(room_id uuid, body text, event text, actor_id uuid) returns void
language sql security definer set search_path = '' as $$
  insert into public.room_messages (room_id, sender_id, kind, body, metadata)
  values (post_system_message.room_id, null, 'system', post_system_message.body,
          jsonb_build_object('event', post_system_message.event, 'user_id', post_system_message.actor_id))
$$;

/** 22023 invalid_input with a human message, for arguments the table constraints would reject less clearly. */
create function private.invalid_input(message text) returns void language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = '22023', message = invalid_input.message, hint = 'invalid_input';
end;
$$;

/**
 * Creates a private room owned by the caller (room + owner membership, one transaction).
 * Who: any signed-in user. Returns the room.
 */
create function public.create_private_room(name text, description text default null,
                                           ai_mode public.ai_mode default 'mention')
returns public.rooms language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
  room public.rooms;
begin
  if create_private_room.name is null or char_length(private.trim_whitespace(create_private_room.name)) not between 1 and 100 then
    perform private.invalid_input('Room name must be 1 to 100 characters');
  end if;
  if char_length(private.trim_whitespace(create_private_room.description)) > 500 then
    perform private.invalid_input('Room description must be at most 500 characters');
  end if;
  insert into public.rooms (kind, name, description, ai_mode, created_by)
  values ('private', create_private_room.name, create_private_room.description,
          coalesce(create_private_room.ai_mode, 'mention'), uid)
  returning * into room;
  insert into public.room_members (room_id, user_id, role) values (room.id, uid, 'owner');
  return room;
end;
$$;
grant execute on function public.create_private_room(text, text, public.ai_mode) to authenticated, service_role;

/**
 * Invites a user (by id or by email) into a private room the caller is an active member of.
 * Errors: 42501 not_member; PT404 room_not_found / user_not_found; PT409 already_member /
 * invite_exists; 22023 invalid_input (neither or both of invitee_id and invitee_email, self-invite).
 */
create function public.send_invite(room_id uuid, invitee_id uuid default null, invitee_email text default null)
returns public.room_invites language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
  target uuid := send_invite.invitee_id;
  room public.rooms;
  invite public.room_invites;
begin
  if (send_invite.invitee_id is null) = (send_invite.invitee_email is null) then
    perform private.invalid_input('Give exactly one of invitee_id and invitee_email');
  end if;
  select * into room from public.rooms r where r.id = send_invite.room_id and r.kind = 'private';
  if not found then
    raise exception using errcode = 'PT404', message = 'Room not found', hint = 'room_not_found';
  end if;
  if not private.is_room_member(room.id) then
    raise exception using errcode = '42501', message = 'Only members can invite to this room', hint = 'not_member';
  end if;
  if target is null then
    select u.id into target from auth.users u
    where lower(u.email) = lower(btrim(send_invite.invitee_email)) and u.deleted_at is null;
  end if;
  if target is null or not exists (select 1 from public.profiles p where p.id = target and not p.is_ai) then
    raise exception using errcode = 'PT404', message = 'No such user', hint = 'user_not_found';
  end if;
  if target = uid then
    perform private.invalid_input('You cannot invite yourself');
  end if;
  if exists (select 1 from public.room_members m
             where m.room_id = room.id and m.user_id = target and m.left_at is null) then
    raise exception using errcode = 'PT409', message = 'That user is already in the room', hint = 'already_member';
  end if;
  -- An expired invite no longer blocks a new one.
  update public.room_invites i set status = 'expired'
  where i.room_id = room.id and i.invitee_id = target and i.status = 'pending' and i.expires_at <= now();
  begin
    insert into public.room_invites (room_id, inviter_id, invitee_id)
    values (room.id, uid, target) returning * into invite;
  exception when unique_violation then
    raise exception using errcode = 'PT409', message = 'That user already has a pending invite to this room',
      hint = 'invite_exists';
  end;
  return invite;
end;
$$;
grant execute on function public.send_invite(uuid, uuid, text) to authenticated, service_role;

/** Locks an invite addressed to the caller, or raises invite_not_found. Internal. */
create function private.lock_invite_for_invitee(invite_id uuid) returns public.room_invites
language plpgsql security definer set search_path = '' as $$
declare
  invite public.room_invites;
begin
  select * into invite from public.room_invites i
  where i.id = lock_invite_for_invitee.invite_id and i.invitee_id = (select auth.uid())
  for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'Invite not found', hint = 'invite_not_found';
  end if;
  if invite.status = 'pending' and invite.expires_at <= now() then
    update public.room_invites i set status = 'expired' where i.id = invite.id returning * into invite;
  end if;
  return invite;
end;
$$;

/**
 * Moves a locked pending invite to `outcome` (declined, revoked). Idempotent when it is already
 * there; PT409 invite_<status> from any other state. Internal.
 */
create function private.settle_invite(invite public.room_invites, outcome public.invite_status)
returns public.room_invites language plpgsql security definer set search_path = '' as $$
declare
  settled public.room_invites;
begin
  if invite.status = settle_invite.outcome then
    return invite;
  end if;
  if invite.status <> 'pending' then
    raise exception using errcode = 'PT409', message = format('This invite is %s', invite.status),
      hint = 'invite_' || invite.status::text;
  end if;
  update public.room_invites i set status = settle_invite.outcome, responded_at = now()
  where i.id = invite.id returning * into settled;
  return settled;
end;
$$;

/**
 * Accepts an invite addressed to the caller: the caller becomes a member (again, if they had left).
 * Idempotent: accepting an accepted invite returns the same membership.
 * Errors: PT404 invite_not_found (also for someone else's invite); PT409 invite_expired /
 * invite_revoked / invite_declined.
 */
create function public.accept_invite(invite_id uuid) returns public.room_members
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
  invite public.room_invites := private.lock_invite_for_invitee(accept_invite.invite_id);
  member public.room_members;
begin
  if invite.status = 'accepted' then
    select * into member from public.room_members m where m.room_id = invite.room_id and m.user_id = uid;
    if member.left_at is null then
      return member;
    end if;
  end if;
  if invite.status <> 'pending' and invite.status <> 'accepted' then
    raise exception using errcode = 'PT409', message = format('This invite is %s', invite.status),
      hint = 'invite_' || invite.status::text;
  end if;
  if invite.status = 'accepted' then
    -- Accepted earlier, left since: the invite is spent.
    raise exception using errcode = 'PT409', message = 'This invite was already used', hint = 'invite_accepted';
  end if;
  update public.room_invites i set status = 'accepted', responded_at = now() where i.id = invite.id;
  insert into public.room_members as m (room_id, user_id, role)
  values (invite.room_id, uid, 'member')
  on conflict on constraint room_members_pkey do update
    set left_at = null, joined_at = now(), role = 'member', last_read_at = now()
    where m.left_at is not null
  returning * into member;
  if member is null then
    select * into member from public.room_members m where m.room_id = invite.room_id and m.user_id = uid;
  else
    perform private.post_system_message(invite.room_id, private.display_name(uid) || ' joined', 'joined', uid);
  end if;
  return member;
end;
$$;
grant execute on function public.accept_invite(uuid) to authenticated, service_role;

/** Declines an invite addressed to the caller. Errors as accept_invite. */
create function public.decline_invite(invite_id uuid) returns public.room_invites
language plpgsql security definer set search_path = '' as $$
begin
  perform private.require_user();
  return private.settle_invite(private.lock_invite_for_invitee(decline_invite.invite_id), 'declined');
end;
$$;
grant execute on function public.decline_invite(uuid) to authenticated, service_role;

/**
 * Revokes a pending invite. Who: the inviter, or an owner/admin of the room.
 * Errors: PT404 invite_not_found (also when the caller may not see it); 42501 forbidden; PT409 invite_<status>.
 */
create function public.revoke_invite(invite_id uuid) returns public.room_invites
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
  invite public.room_invites;
begin
  select * into invite from public.room_invites i where i.id = revoke_invite.invite_id for update;
  if not found or not (invite.inviter_id = uid or private.is_room_member(invite.room_id)) then
    raise exception using errcode = 'PT404', message = 'Invite not found', hint = 'invite_not_found';
  end if;
  if not (invite.inviter_id = uid or private.has_room_role(invite.room_id, '{owner,admin}')) then
    raise exception using errcode = '42501', message = 'Only the inviter or a room admin can revoke this invite',
      hint = 'forbidden';
  end if;
  return private.settle_invite(invite, 'revoked');
end;
$$;
grant execute on function public.revoke_invite(uuid) to authenticated, service_role;

/**
 * Joins a coworking room, never beyond its capacity: the room row is locked, so concurrent joins
 * queue and each sees the count the previous one left. Idempotent for someone already in.
 * Posts "<name> joined". Errors: PT404 room_not_found; PT409 room_inactive / room_full; 42501 forbidden
 * within 15 minutes of being removed by a moderator.
 */
create function public.join_coworking_room(room_id uuid) returns public.room_members
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
  room public.rooms;
  member public.room_members;
  occupied integer;
begin
  select * into room from public.rooms r
  where r.id = join_coworking_room.room_id and r.kind = 'coworking'
  for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'Room not found', hint = 'room_not_found';
  end if;
  select * into member from public.room_members m
  where m.room_id = room.id and m.user_id = uid and m.left_at is null;
  if found then
    return member;
  end if;
  if exists (select 1 from public.room_members m
             where m.room_id = room.id and m.user_id = uid and m.removed_until > now()) then
    raise exception using errcode = '42501', message = 'You were removed from this room and cannot rejoin yet',
      hint = 'forbidden';
  end if;
  if room.status <> 'active' then
    raise exception using errcode = 'PT409', message = 'This room is closed', hint = 'room_inactive';
  end if;
  select count(*) into occupied from public.room_members m where m.room_id = room.id and m.left_at is null;
  if occupied >= room.capacity then
    raise exception using errcode = 'PT409', message = format('%s is full (%s/%s)', room.name, occupied, room.capacity),
      hint = 'room_full';
  end if;
  insert into public.room_members as m (room_id, user_id, role)
  values (room.id, uid, 'member')
  on conflict on constraint room_members_pkey do update
    set left_at = null, joined_at = now(), mic_enabled = false, voice_connected = false, last_read_at = now(),
        removed_until = null
  returning * into member;
  perform private.post_system_message(room.id, private.display_name(uid) || ' joined', 'joined', uid);
  return member;
end;
$$;
grant execute on function public.join_coworking_room(uuid) to authenticated, service_role;

/**
 * Leaves a room (membership kept as history). Posts "<name> left".
 * Private rooms: when the owner leaves, ownership passes to the longest-standing admin, else the
 * longest-standing member; when the last member leaves, the room is deleted.
 * Errors: 42501 not_member. Leaving a room you are not in is not an error if you were in it once.
 */
create function public.leave_room(room_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
  member public.room_members;
  room public.rooms;
  heir uuid;
begin
  select * into room from public.rooms r where r.id = leave_room.room_id for update;
  select * into member from public.room_members m where m.room_id = leave_room.room_id and m.user_id = uid;
  if room.id is null or member.user_id is null then
    raise exception using errcode = '42501', message = 'You are not in this room', hint = 'not_member';
  end if;
  if member.left_at is not null then
    return;
  end if;
  update public.room_members m
  set left_at = now(), mic_enabled = false, voice_connected = false,
      role = case when m.role = 'owner' then 'member'::public.member_role else m.role end
  where m.room_id = room.id and m.user_id = uid;
  if room.kind = 'private' and member.role = 'owner' then
    select m.user_id into heir from public.room_members m
    where m.room_id = room.id and m.left_at is null
    order by (m.role = 'admin') desc, m.joined_at, m.user_id
    limit 1;
    if heir is null then
      delete from public.rooms r where r.id = room.id;
      return;
    end if;
    update public.room_members m set role = 'owner' where m.room_id = room.id and m.user_id = heir;
  end if;
  perform private.post_system_message(room.id, private.display_name(uid) || ' left', 'left', uid);
end;
$$;
grant execute on function public.leave_room(uuid) to authenticated, service_role;

/**
 * Removes a member from a private room, or a participant from a coworking room.
 * Who: private rooms — the owner (anyone but themselves) or an admin (plain members only);
 * coworking rooms — the service role only (moderation through the edge function); the removed
 * participant cannot rejoin for 15 minutes.
 * The removed member's pending invites to the room are revoked with them.
 * Errors: 42501 forbidden; PT404 not_member (target not in the room).
 */
create function public.remove_member(room_id uuid, user_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := auth.uid();
  is_service boolean := coalesce(auth.role(), '') = 'service_role';
  target public.room_members;
  room public.rooms;
begin
  if uid is null and not is_service then
    perform private.require_user();
  end if;
  select * into room from public.rooms r where r.id = remove_member.room_id for update;
  select * into target from public.room_members m
  where m.room_id = remove_member.room_id and m.user_id = remove_member.user_id and m.left_at is null;
  if not is_service then
    if room.id is null or not private.is_room_member(room.id) then
      raise exception using errcode = '42501', message = 'You are not in this room', hint = 'not_member';
    end if;
    if room.kind <> 'private'
       or remove_member.user_id = uid
       or not (private.has_room_role(room.id, '{owner}') and target.role is distinct from 'owner'
               or private.has_room_role(room.id, '{admin}') and target.role = 'member') then
      raise exception using errcode = '42501', message = 'You may not remove this member', hint = 'forbidden';
    end if;
  end if;
  if target.user_id is null then
    raise exception using errcode = 'PT404', message = 'That user is not in the room', hint = 'not_member';
  end if;
  -- A removed coworking participant could rejoin at once (coworking rooms are open): a cooldown makes
  -- the removal stick. Private rooms need a new invite anyway.
  update public.room_members m set left_at = now(), mic_enabled = false, voice_connected = false,
    removed_until = case when room.kind = 'coworking' then now() + interval '15 minutes' end
  where m.room_id = room.id and m.user_id = target.user_id;
  -- A removed member's invites would otherwise still let their guests (or their own second account) in.
  update public.room_invites i set status = 'revoked', responded_at = now()
  where i.room_id = room.id and i.inviter_id = target.user_id and i.status = 'pending';
  perform private.post_system_message(room.id, private.display_name(target.user_id) || ' was removed', 'removed',
                                      target.user_id);
end;
$$;
grant execute on function public.remove_member(uuid, uuid) to authenticated, service_role;

/**
 * Sets a member's role in a private room. Who: the owner. Errors: 42501 forbidden; PT404 not_member;
 * 22023 invalid_input (use leave_room to give up ownership).
 */
create function public.set_member_role(room_id uuid, user_id uuid, role public.member_role) returns public.room_members
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
  member public.room_members;
begin
  if not private.has_room_role(set_member_role.room_id, '{owner}') then
    raise exception using errcode = '42501', message = 'Only the owner can change roles', hint = 'forbidden';
  end if;
  if set_member_role.role = 'owner' or set_member_role.user_id = uid then
    perform private.invalid_input('Roles can be set to admin or member, for others than yourself');
  end if;
  update public.room_members m set role = set_member_role.role
  where m.room_id = set_member_role.room_id and m.user_id = set_member_role.user_id and m.left_at is null
  returning * into member;
  if not found then
    raise exception using errcode = 'PT404', message = 'That user is not in the room', hint = 'not_member';
  end if;
  return member;
end;
$$;
grant execute on function public.set_member_role(uuid, uuid, public.member_role) to authenticated, service_role;

/** Deletes a private room. Who: its owner. Errors: PT404 room_not_found; 42501 forbidden. */
create function public.delete_room(room_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform private.require_user();
  if not exists (select 1 from public.rooms r where r.id = delete_room.room_id
                 and (private.is_room_member(r.id) or private.has_pending_invite(r.id))) then
    raise exception using errcode = 'PT404', message = 'Room not found', hint = 'room_not_found';
  end if;
  if not private.has_room_role(delete_room.room_id, '{owner}')
     or not exists (select 1 from public.rooms r where r.id = delete_room.room_id and r.kind = 'private') then
    raise exception using errcode = '42501', message = 'Only the owner can delete this room', hint = 'forbidden';
  end if;
  delete from public.rooms r where r.id = delete_room.room_id;
end;
$$;
grant execute on function public.delete_room(uuid) to authenticated, service_role;

/** Turns the caller's microphone on or off in a coworking room they are in. Errors: 42501 not_member. */
create function public.set_mic(room_id uuid, enabled boolean) returns public.room_members
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
  member public.room_members;
begin
  if set_mic.enabled is null then
    perform private.invalid_input('enabled must be true or false');
  end if;
  update public.room_members m set mic_enabled = set_mic.enabled
  where m.room_id = set_mic.room_id and m.user_id = uid and m.left_at is null
  returning * into member;
  if not found then
    raise exception using errcode = '42501', message = 'You are not in this room', hint = 'not_member';
  end if;
  return member;
end;
$$;
grant execute on function public.set_mic(uuid, boolean) to authenticated, service_role;

/** Sends a text or emoji message as the caller. Errors: 42501 not_member; PT409 room_inactive; 22023/23514 bad body. */
create function public.send_message(room_id uuid, body text, kind public.message_kind default 'text')
returns public.room_messages language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
  message public.room_messages;
begin
  if send_message.kind not in ('text', 'emoji') then
    perform private.invalid_input('kind must be text or emoji');
  end if;
  if send_message.body is null or private.trim_whitespace(send_message.body) = ''
     or char_length(send_message.body) > (case when send_message.kind = 'text' then 4000 else 32 end) then
    perform private.invalid_input(case when send_message.kind = 'text'
      then 'Message text must be 1 to 4000 characters' else 'An emoji message must be 1 to 32 characters' end);
  end if;
  if not private.is_room_member(send_message.room_id) then
    raise exception using errcode = '42501', message = 'You are not in this room', hint = 'not_member';
  end if;
  if exists (select 1 from public.rooms r where r.id = send_message.room_id and r.status <> 'active') then
    raise exception using errcode = 'PT409', message = 'This room is closed', hint = 'room_inactive';
  end if;
  insert into public.room_messages (room_id, sender_id, kind, body)
  values (send_message.room_id, uid, send_message.kind, send_message.body)
  returning * into message;
  return message;
end;
$$;
grant execute on function public.send_message(uuid, text, public.message_kind) to authenticated, service_role;

/** Soft-deletes one of the caller's own messages. Errors: PT404 message_not_found. */
create function public.delete_message(message_id uuid) returns public.room_messages
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
  message public.room_messages;
begin
  update public.room_messages m set deleted_at = now(), body = null
  where m.id = delete_message.message_id and m.sender_id = uid and private.is_room_member(m.room_id)
    and m.deleted_at is null
  returning * into message;
  if not found then
    select * into message from public.room_messages m
    where m.id = delete_message.message_id and m.sender_id = uid and m.deleted_at is not null;
    if not found then
      raise exception using errcode = 'PT404', message = 'Message not found', hint = 'message_not_found';
    end if;
  end if;
  return message;
end;
$$;
grant execute on function public.delete_message(uuid) to authenticated, service_role;

/** Marks the caller's messages in a room as read up to `at` (default now). Errors: 42501 not_member. */
create function public.mark_room_read(room_id uuid, at timestamptz default now()) returns void
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := private.require_user();
begin
  update public.room_members m set last_read_at = greatest(m.last_read_at, least(coalesce(mark_room_read.at, now()), now()))
  where m.room_id = mark_room_read.room_id and m.user_id = uid and m.left_at is null;
  if not found then
    raise exception using errcode = '42501', message = 'You are not in this room', hint = 'not_member';
  end if;
end;
$$;
grant execute on function public.mark_room_read(uuid, timestamptz) to authenticated, service_role;

/** Unread messages (by others, not deleted) per room the caller is in. */
create function public.room_unread_counts()
returns table (room_id uuid, unread_count bigint)
language sql stable security definer set search_path = '' as $$
  select m.room_id, count(msg.id)
  from public.room_members m
  left join public.room_messages msg
    on msg.room_id = m.room_id and msg.created_at > m.last_read_at
   and msg.sender_id is distinct from m.user_id and msg.deleted_at is null
  where m.user_id = (select auth.uid()) and m.left_at is null
  group by m.room_id
$$;
grant execute on function public.room_unread_counts() to authenticated, service_role;

/** Active coworking rooms with their live participant counts, for the public lobby. */
create function public.list_coworking_rooms()
returns table (id uuid, name text, description text, capacity integer, status public.room_status,
               participant_count integer)
language sql stable security definer set search_path = '' as $$
  select r.id, r.name, r.description, r.capacity, r.status,
         (select count(*)::integer from public.room_members m where m.room_id = r.id and m.left_at is null)
  from public.rooms r
  where r.kind = 'coworking' and r.status = 'active'
  order by r.name
$$;
grant execute on function public.list_coworking_rooms() to anon, authenticated, service_role;
