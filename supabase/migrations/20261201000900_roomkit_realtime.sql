-- Realtime: database changes broadcast to private topics, and who may use which topic.
-- Topics (the epoch is rooms.epoch, which advances whenever a membership ends; a topic is usable only
-- at the current epoch, so a former member's open channel goes quiet and the others move on):
--   `room:<room_id>:<epoch>`       database and server events only (messages, reactions, members, room
--                          changes, invites' outcomes, `ai.*` from the AI function); members may
--                          receive, nobody may send (triggers run as the owner, the AI function as
--                          the service role, both bypass RLS);
--   `room:<room_id>:<epoch>:live`  members' own signals (typing, speaking, emoji bursts) and presence;
--                          members may receive and send;
--   `user:<user_id>`       that user's incoming invites (receive only);
--   `coworking:lobby`      live participant counts (private; anyone may receive, nobody may send).
-- Realtime authorizes a send per topic and extension, never per event: a topic clients may write
-- to can carry any event name, so server events live on topics no client can write.
-- Event names are `<entity>.<op>` (message.insert, reaction.delete, member.update, invite.insert …);
-- payloads have the realtime.broadcast_changes shape {operation, table, schema, record, old_record}.

-- helpers
/** The topic of a room at its current epoch: `room:<id>:<epoch>`, or `room:<id>:<epoch>:live`. */
create function roomkit_private.room_topic(room_id uuid, live boolean default false) returns text
language sql stable security definer set search_path = '' as $$
  select 'room:' || r.id::text || ':' || r.epoch::text || case when room_topic.live then ':live' else '' end
  from roomkit.rooms r where r.id = room_topic.room_id
$$;

/**
 * May the caller use this room topic? Only a `room:<id>:<epoch>` (`live` false) or
 * `room:<id>:<epoch>:live` (`live` true) topic of a room they are an active member of, at the room's
 * current epoch. Anything else, malformed topics included, is false (never an error).
 */
create function roomkit_private.can_use_room_topic(topic text, live boolean) returns boolean
language sql stable security definer set search_path = '' as $$
  select coalesce((
    select roomkit_private.is_room_member(r.id)
    from regexp_match(can_use_room_topic.topic,
           '^room:([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}):([1-9][0-9]{0,9})(:live)?$') as m
    join roomkit.rooms r on r.id = m[1]::uuid and r.epoch::text = m[2]
    where (m[3] is not null) = can_use_room_topic.live), false)
$$;

-- policies
-- Who may receive (select) and send (insert) on private channels; names start with "Roomkit:" so
-- they stand apart from an app's own policies on realtime.messages. The topic check is wrapped in
-- `(select …)` so Postgres runs it once per statement, not once per probed row. No insert policy names
-- `room:<id>:<epoch>`, `user:<id>` or `coworking:lobby`: only the database (and the service role) sends there.
create policy "Roomkit: Room members can receive database events of their room" on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and (select roomkit_private.can_use_room_topic((select realtime.topic()), false)));
create policy "Roomkit: Room members can receive signals and presence of their room" on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension in ('broadcast', 'presence')
    and (select roomkit_private.can_use_room_topic((select realtime.topic()), true)));
create policy "Roomkit: Room members can send signals and presence to their room" on realtime.messages
  for insert to authenticated
  with check (
    realtime.messages.extension in ('broadcast', 'presence')
    and (select roomkit_private.can_use_room_topic((select realtime.topic()), true)));
create policy "Roomkit: Users can receive their own notifications" on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and (select realtime.topic()) = 'user:' || (select auth.uid())::text);
create policy "Roomkit: Anyone can receive coworking lobby counts" on realtime.messages
  for select to anon, authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and (select realtime.topic()) = 'coworking:lobby');

-- functions
/** Broadcasts the changed row to `room:<room_id>` as `<TG_ARGV[0]>.<op>`. */
create function roomkit_private.broadcast_room_change() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  row_room uuid := coalesce(new.room_id, old.room_id);
begin
  -- Rows removed by deleting their room: the room's own `room.delete` already says it.
  if tg_op = 'DELETE' and not exists (select 1 from roomkit.rooms r where r.id = row_room) then
    return null;
  end if;
  perform realtime.broadcast_changes(roomkit_private.room_topic(row_room), tg_argv[0] || '.' || lower(tg_op), tg_op,
                                     tg_table_name, tg_table_schema, new, old);
  return null;
end;
$$;


/** Broadcasts room updates and deletions to the room's own topic (rooms rows have `id`, not `room_id`). */
create function roomkit_private.broadcast_room_row() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  -- To the topic the members were on before this change: an epoch change is how they learn to move.
  perform realtime.broadcast_changes('room:' || old.id::text || ':' || old.epoch::text, 'room.' || lower(tg_op), tg_op,
                                     tg_table_name, tg_table_schema, new, old);
  return null;
end;
$$;

/** New invites reach the invitee on `user:<invitee_id>`; status changes reach the invitee and the room. */
create function roomkit_private.broadcast_invite() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  invitee uuid;
begin
  -- By email: the user who holds that confirmed address now, if anyone (never told to the inviter).
  invitee := coalesce(new.invitee_id, (select u.id from auth.users u
                                       where u.email = new.invitee_email and u.email_confirmed_at is not null
                                       limit 1));
  if invitee is not null then
    perform realtime.broadcast_changes('user:' || invitee::text, 'invite.' || lower(tg_op), tg_op,
                                       tg_table_name, tg_table_schema, new, old);
  end if;
  if tg_op = 'UPDATE' then
    perform realtime.broadcast_changes(roomkit_private.room_topic(new.room_id), 'invite.update', tg_op,
                                       tg_table_name, tg_table_schema, new, old);
  end if;
  return null;
end;
$$;

/**
 * Live lobby counts: after any membership change in a coworking room, its new count goes to the
 * private topic `coworking:lobby` (private so that only this trigger can send there).
 */
create function roomkit_private.broadcast_coworking_count() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  row_room uuid := coalesce(new.room_id, old.room_id);
begin
  if (tg_op = 'INSERT' or old.left_at is distinct from new.left_at) and exists (select 1 from roomkit.rooms r where r.id = row_room and r.kind = 'coworking') then
    perform realtime.send(
      jsonb_build_object('room_id', row_room, 'participant_count',
        (select count(*) from roomkit.room_members m where m.room_id = row_room and m.left_at is null)),
      'room.count', 'coworking:lobby', true);
  end if;
  return null;
end;
$$;

-- triggers
create trigger room_messages_broadcast after insert or update on roomkit.room_messages
  for each row execute function roomkit_private.broadcast_room_change('message');
create trigger message_reactions_broadcast after insert or delete on roomkit.message_reactions
  for each row execute function roomkit_private.broadcast_room_change('reaction');
create trigger room_members_broadcast after insert or update on roomkit.room_members
  for each row execute function roomkit_private.broadcast_room_change('member');
create trigger rooms_broadcast after update or delete on roomkit.rooms
  for each row execute function roomkit_private.broadcast_room_row();
create trigger room_invites_broadcast after insert or update on roomkit.room_invites
  for each row execute function roomkit_private.broadcast_invite();
create trigger room_members_lobby_count after insert or update on roomkit.room_members
  for each row execute function roomkit_private.broadcast_coworking_count();

-- grants
grant execute on function roomkit_private.can_use_room_topic(text, boolean) to anon, authenticated, service_role;
grant execute on function roomkit_private.room_topic(uuid, boolean) to service_role;
