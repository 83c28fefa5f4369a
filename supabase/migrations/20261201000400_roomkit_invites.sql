-- Invites into private rooms: send, accept, decline, revoke. A pending invite lets the invitee
-- see the room (name, description) before accepting; accepting makes them a member.
-- An invite names a user (invitee_id) or an email address (invitee_email). Inviting an address
-- answers the same whether or not anyone has it: nothing is looked up for the inviter; whoever
-- holds that address, confirmed, sees the invite (now, or after signing up) and may accept it.

-- types
create type roomkit.invite_status as enum ('pending', 'accepted', 'declined', 'revoked', 'expired');

-- tables
/** Invitations into private rooms. At most one pending invite per room and invitee. */
create table roomkit.room_invites (
  id uuid primary key default gen_random_uuid(),
  room_id uuid not null references roomkit.rooms (id) on delete cascade,
  inviter_id uuid references roomkit.profiles (id) on delete set null,
  invitee_id uuid references roomkit.profiles (id) on delete cascade,
  -- Lower-case; set for invites by email (invitee_id is filled in when someone accepts).
  invitee_email text check (invitee_email = lower(invitee_email) and char_length(invitee_email) between 3 and 320
                            and invitee_email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  status roomkit.invite_status not null default 'pending',
  created_at timestamptz not null default now(),
  responded_at timestamptz,
  expires_at timestamptz not null default now() + interval '7 days',
  constraint room_invites_names_someone check (invitee_id is not null or invitee_email is not null)
);
comment on table roomkit.room_invites is 'Invites; written only by Roomkit''s SQL functions. Visible to the invitee, the inviter and room members.';
alter table roomkit.room_invites enable row level security;

-- indexes
create unique index room_invites_one_pending_idx on roomkit.room_invites (room_id, invitee_id) where status = 'pending';
create unique index room_invites_one_pending_email_idx on roomkit.room_invites (room_id, invitee_email)
  where status = 'pending' and invitee_email is not null;
create index room_invites_email_idx on roomkit.room_invites (invitee_email, status) where invitee_email is not null;
create index room_invites_room_idx on roomkit.room_invites (room_id, status);
create index room_invites_invitee_idx on roomkit.room_invites (invitee_id, status);
create index room_invites_inviter_idx on roomkit.room_invites (inviter_id, created_at);

-- helpers
/** The caller's email address, lower-case, once Auth has confirmed it (else null). */
create function roomkit_private.my_email() returns text
language sql stable security definer set search_path = '' as $$
  select lower(u.email) from auth.users u
  where u.id = (select auth.uid()) and u.email_confirmed_at is not null and roomkit_private.session_is_live()
$$;

/** Is the invite addressed to the caller (by id, or by their confirmed email address)? */
create function roomkit_private.is_my_invite(invite roomkit.room_invites) returns boolean
language sql stable security definer set search_path = '' as $$
  select coalesce(is_my_invite.invite.invitee_id = (select auth.uid())
                  or is_my_invite.invite.invitee_email = roomkit_private.my_email(), false)
$$;

/** The rooms the caller has a pending, unexpired invite to, as a set for policies. */
create function roomkit_private.my_invited_room_ids() returns setof uuid
language sql stable security definer set search_path = '' rows 5 as $$
  select i.room_id from roomkit.room_invites i
  where (i.invitee_id = (select auth.uid()) or i.invitee_email = (select roomkit_private.my_email()))
    and i.status = 'pending' and i.expires_at > now() and roomkit_private.session_is_live()
$$;

/** 404 invite_not_found. */
create function roomkit_private.invite_not_found() returns void
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = 'PT404', message = 'Invite not found', hint = 'invite_not_found';
end;
$$;

/** 409 invite_<status>: the invite is no longer pending. */
create function roomkit_private.invite_settled(status roomkit.invite_status) returns void
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = 'PT409', message = format('This invite is %s', invite_settled.status),
    hint = 'invite_' || invite_settled.status::text;
end;
$$;

/**
 * Locks an invite and its room (room first: the lock order of the rooms migration) and marks it
 * expired when its time is up. Null when there is no such invite; callers check who may act on it.
 */
create function roomkit_private.lock_invite(invite_id uuid) returns roomkit.room_invites
language plpgsql security definer set search_path = '' as $$
declare
  invite roomkit.room_invites;
begin
  perform roomkit_private.lock_room((select i.room_id from roomkit.room_invites i where i.id = lock_invite.invite_id));
  select * into invite from roomkit.room_invites i where i.id = lock_invite.invite_id for update;
  if invite.status = 'pending' and invite.expires_at <= now() then
    update roomkit.room_invites i set status = 'expired' where i.id = invite.id returning * into invite;
  end if;
  return invite;
end;
$$;

/** Moves a locked invite to `outcome` (declined, revoked); idempotent; 409 invite_<status> otherwise. */
create function roomkit_private.settle_invite(invite roomkit.room_invites, outcome roomkit.invite_status)
returns roomkit.room_invites language plpgsql security definer set search_path = '' as $$
declare
  settled roomkit.room_invites;
begin
  if invite.status = settle_invite.outcome then
    return invite;
  end if;
  if invite.status <> 'pending' then
    perform roomkit_private.invite_settled(invite.status);
  end if;
  update roomkit.room_invites i set status = settle_invite.outcome, responded_at = now()
  where i.id = invite.id returning * into settled;
  return settled;
end;
$$;

-- policies
-- Invitees may see the room they are invited to (extends the rooms migration's one select policy).
alter policy "Anyone can read coworking rooms; members can read their private rooms" on roomkit.rooms
  rename to "Anyone can read coworking rooms; members and invitees can read their private rooms";
alter policy "Anyone can read coworking rooms; members and invitees can read their private rooms" on roomkit.rooms
  using (kind = 'coworking'
         or id = any (array(select roomkit_private.my_room_ids()))
         or id = any (array(select roomkit_private.my_invited_room_ids())));

create policy "Invitees, inviters and room members can read invites" on roomkit.room_invites
  for select to authenticated
  using (invitee_id = (select auth.uid()) or inviter_id = (select auth.uid())
         or invitee_email = (select roomkit_private.my_email())
         or room_id = any (array(select roomkit_private.my_room_ids())));

-- functions
/**
 * Invites a user (by id) or an email address into a private room the caller is a member of. By
 * email the answer never depends on whether the address belongs to anyone.
 * Errors: 403 not_member; 404 room_not_found / user_not_found (by id); 409 already_member (by id) /
 * invite_exists; 429 rate_limited (limits.invites_per_hour); 400 invalid_input (neither or both of
 * invitee_id and invitee_email, a malformed address, inviting yourself).
 */
create function roomkit_private.send_invite(room_id uuid, invitee_id uuid, invitee_email text)
returns roomkit.room_invites language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  email text := lower(btrim(send_invite.invitee_email));
  room roomkit.rooms;
  invite roomkit.room_invites;
begin
  if (send_invite.invitee_id is null) = (send_invite.invitee_email is null) then
    perform roomkit_private.invalid_input('Give exactly one of invitee_id and invitee_email');
  end if;
  if email is not null and (char_length(email) not between 3 and 320 or email !~ '^[^@[:space:]]+@[^@[:space:]]+$') then
    perform roomkit_private.invalid_input('invitee_email is not an email address');
  end if;
  room := roomkit_private.lock_room(send_invite.room_id);
  if room.id is null or room.kind <> 'private' then
    perform roomkit_private.room_not_found();
  end if;
  if not roomkit_private.is_room_member(room.id) then
    perform roomkit_private.not_member();
  end if;
  perform pg_advisory_xact_lock(hashtextextended('roomkit_send_invite:' || uid::text, 0));
  if (select count(*) from roomkit.room_invites i where i.inviter_id = uid and i.created_at > now() - interval '1 hour')
     >= (select l.invites_per_hour from roomkit_private.limits l) then
    perform roomkit_private.rate_limited(format('You can send at most %s invites an hour',
                                                (select l.invites_per_hour from roomkit_private.limits l)));
  end if;
  if send_invite.invitee_id = uid or email = (select lower(u.email) from auth.users u where u.id = uid) then
    perform roomkit_private.invalid_input('You cannot invite yourself');
  end if;
  if send_invite.invitee_id is not null then
    if not exists (select 1 from roomkit.profiles p where p.id = send_invite.invitee_id and not p.is_ai) then
      raise exception using errcode = 'PT404', message = 'No such user', hint = 'user_not_found';
    end if;
    if exists (select 1 from roomkit.room_members m
               where m.room_id = room.id and m.user_id = send_invite.invitee_id and m.left_at is null) then
      raise exception using errcode = 'PT409', message = 'That user is already in the room', hint = 'already_member';
    end if;
  end if;
  -- An expired invite no longer blocks a new one.
  update roomkit.room_invites i set status = 'expired'
  where i.room_id = room.id and i.status = 'pending' and i.expires_at <= now()
    and (i.invitee_id = send_invite.invitee_id or i.invitee_email = email);
  if exists (select 1 from roomkit.room_invites i where i.room_id = room.id and i.status = 'pending'
             and (i.invitee_id = send_invite.invitee_id or i.invitee_email = email)) then
    raise exception using errcode = 'PT409', message = 'There is already a pending invite for them in this room',
      hint = 'invite_exists';
  end if;
  insert into roomkit.room_invites (room_id, inviter_id, invitee_id, invitee_email)
  values (room.id, uid, send_invite.invitee_id, email) returning * into invite;
  return invite;
end;
$$;

/**
 * Accepts an invite addressed to the caller: the caller becomes a member (again, if they had left).
 * Accepting an accepted invite while still a member returns the same membership.
 * Errors: 404 invite_not_found (also for someone else's invite); 409 invite_expired / invite_revoked /
 * invite_declined / invite_accepted (used, then left).
 */
create function roomkit_private.accept_invite(invite_id uuid) returns roomkit.room_members
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  invite roomkit.room_invites := roomkit_private.lock_invite(accept_invite.invite_id);
  member roomkit.room_members;
begin
  if invite.id is null or not roomkit_private.is_my_invite(invite) then
    perform roomkit_private.invite_not_found();
  end if;
  if invite.status = 'accepted' then
    select * into member from roomkit.room_members m
    where m.room_id = invite.room_id and m.user_id = uid and m.left_at is null;
    if found then
      return member;
    end if;
  end if;
  if invite.status <> 'pending' then
    perform roomkit_private.invite_settled(invite.status);
  end if;
  update roomkit.room_invites i set status = 'accepted', responded_at = now(), invitee_id = uid where i.id = invite.id;
  insert into roomkit.room_members as m (room_id, user_id, role)
  values (invite.room_id, uid, 'member')
  on conflict on constraint room_members_pkey do update
    set left_at = null, joined_at = now(), role = 'member', last_read_at = now()
    where m.left_at is not null
  returning * into member;
  if member is null then
    select * into member from roomkit.room_members m where m.room_id = invite.room_id and m.user_id = uid;
  else
    perform roomkit_private.post_system_message(invite.room_id, roomkit_private.display_name(uid) || ' joined', 'joined', uid);
  end if;
  return member;
end;
$$;

/** Declines an invite addressed to the caller. Errors as accept_invite. */
create function roomkit_private.decline_invite(invite_id uuid) returns roomkit.room_invites
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  invite roomkit.room_invites := roomkit_private.lock_invite(decline_invite.invite_id);
begin
  if invite.id is null or not roomkit_private.is_my_invite(invite) then
    perform roomkit_private.invite_not_found();
  end if;
  return roomkit_private.settle_invite(invite, 'declined');
end;
$$;

/**
 * Revokes a pending invite. Who: the inviter, or an owner/admin of the room.
 * Errors: 404 invite_not_found (also when the caller may not see it); 403 forbidden; 409 invite_<status>.
 */
create function roomkit_private.revoke_invite(invite_id uuid) returns roomkit.room_invites
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  invite roomkit.room_invites := roomkit_private.lock_invite(revoke_invite.invite_id);
begin
  if invite.id is null or not (invite.inviter_id = uid or roomkit_private.is_room_member(invite.room_id)) then
    perform roomkit_private.invite_not_found();
  end if;
  if not (invite.inviter_id = uid or roomkit_private.has_room_role(invite.room_id, '{owner,admin}')) then
    raise exception using errcode = '42501', message = 'Only the inviter or a room admin can revoke this invite',
      hint = 'forbidden';
  end if;
  return roomkit_private.settle_invite(invite, 'revoked');
end;
$$;

create function roomkit.send_invite(room_id uuid, invitee_id uuid default null, invitee_email text default null)
returns roomkit.room_invites language sql set search_path = '' as $$
  select roomkit_private.send_invite(send_invite.room_id, send_invite.invitee_id, send_invite.invitee_email)
$$;
create function roomkit.accept_invite(invite_id uuid) returns roomkit.room_members language sql set search_path = '' as $$
  select roomkit_private.accept_invite(accept_invite.invite_id)
$$;
create function roomkit.decline_invite(invite_id uuid) returns roomkit.room_invites language sql set search_path = '' as $$
  select roomkit_private.decline_invite(decline_invite.invite_id)
$$;
create function roomkit.revoke_invite(invite_id uuid) returns roomkit.room_invites language sql set search_path = '' as $$
  select roomkit_private.revoke_invite(revoke_invite.invite_id)
$$;

-- triggers
/** When a membership ends, the former member's pending invites to that room end with it. */
create function roomkit_private.revoke_invites_of_former_member() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  update roomkit.room_invites i set status = 'revoked', responded_at = now()
  where i.room_id = new.room_id and i.inviter_id = new.user_id and i.status = 'pending';
  return null;
end;
$$;
create trigger room_members_revoke_invites after update of left_at on roomkit.room_members
  for each row when (old.left_at is null and new.left_at is not null)
  execute function roomkit_private.revoke_invites_of_former_member();

-- grants
grant all on roomkit.room_invites to service_role;
grant select on roomkit.room_invites to authenticated;
grant execute on function roomkit_private.my_invited_room_ids(), roomkit_private.my_email()
  to anon, authenticated, service_role;
grant execute on function roomkit_private.is_my_invite(roomkit.room_invites) to authenticated, service_role;
grant execute on function roomkit_private.send_invite(uuid, uuid, text), roomkit_private.accept_invite(uuid),
  roomkit_private.decline_invite(uuid), roomkit_private.revoke_invite(uuid)
  to authenticated, service_role;
grant execute on function roomkit.send_invite(uuid, uuid, text), roomkit.accept_invite(uuid),
  roomkit.decline_invite(uuid), roomkit.revoke_invite(uuid)
  to authenticated, service_role;
