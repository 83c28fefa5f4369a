-- Helpers that policies and functions call. Named as questions; `stable security definer`
-- so a policy on one table can look at another without recursing into its policies.

/** Is the caller an active member of the room? */
create function private.is_room_member(room_id uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (
    select 1 from public.room_members m
    where m.room_id = is_room_member.room_id
      and m.user_id = (select auth.uid())
      and m.left_at is null)
$$;

/** Does the caller hold one of the roles in the room (active membership)? */
create function private.has_room_role(room_id uuid, roles public.member_role[]) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (
    select 1 from public.room_members m
    where m.room_id = has_room_role.room_id
      and m.user_id = (select auth.uid())
      and m.left_at is null
      and m.role = any (has_room_role.roles))
$$;

/** Does the caller have a pending, unexpired invite to the room? */
create function private.has_pending_invite(room_id uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (
    select 1 from public.room_invites i
    where i.room_id = has_pending_invite.room_id
      and i.invitee_id = (select auth.uid())
      and i.status = 'pending'
      and i.expires_at > now())
$$;

/** Is the room a coworking room (public by nature)? */
create function private.is_coworking_room(room_id uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select 1 from public.rooms r where r.id = is_coworking_room.room_id and r.kind = 'coworking')
$$;

/** The room id in a `room:<uuid>` topic, or null for any other topic (never an error). */
create function private.room_id_from_topic(topic text) returns uuid
language sql immutable set search_path = '' as $$
  select case
    when room_id_from_topic.topic ~ '^room:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
    then substr(room_id_from_topic.topic, 6)::uuid
  end
$$;

/** The room id in a `room:<uuid>:live` topic (members' own signals and presence), or null for any other topic (never an error). */
create function private.room_id_from_live_topic(topic text) returns uuid
language sql immutable set search_path = '' as $$
  select case
    when room_id_from_live_topic.topic ~ '^room:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}:live$'
    then substr(room_id_from_live_topic.topic, 6, 36)::uuid
  end
$$;

/** The caller's display name, for system messages. */
create function private.display_name(user_id uuid) returns text
language sql stable security definer set search_path = '' as $$
  select coalesce((select p.display_name from public.profiles p where p.id = display_name.user_id), 'Someone')
$$;

/** The caller's id, or 42501 not_authenticated: the first line of every function that acts for a user. */
create function private.require_user() returns uuid
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

grant execute on function private.is_room_member(uuid), private.has_room_role(uuid, public.member_role[]),
  private.has_pending_invite(uuid), private.is_coworking_room(uuid), private.room_id_from_topic(text),
  private.room_id_from_live_topic(text), private.ai_user_id()
  to anon, authenticated, service_role;
grant execute on function private.display_name(uuid), private.require_user() to authenticated, service_role;
