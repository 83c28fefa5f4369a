-- Realtime: database changes broadcast to private topics, and who may use which topic.
-- Topics:
--   `room:<room_id>`       database and server events only (messages, reactions, members, room
--                          changes, invites' outcomes, `ai.*` from the AI function); members may
--                          receive, nobody may send (triggers run as the owner, the AI function as
--                          the service role, both bypass RLS);
--   `room:<room_id>:live`  members' own signals (typing, speaking, emoji bursts) and presence;
--                          members may receive and send;
--   `user:<user_id>`       that user's incoming invites (receive only);
--   `coworking:lobby`      live participant counts (private; anyone may receive, nobody may send).
-- Realtime authorizes a send per topic and extension, never per event: a topic clients may write
-- to can carry any event name, so server events live on topics no client can write.
-- Event names are `<entity>.<op>` (message.insert, reaction.delete, member.update, invite.insert …);
-- payloads have the realtime.broadcast_changes shape {operation, table, schema, record, old_record}.

/** Broadcasts the changed row to `room:<room_id>` as `<TG_ARGV[0]>.<op>`. */
create function private.broadcast_room_change() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  row_room uuid := coalesce(new.room_id, old.room_id);
begin
  -- Rows removed by deleting their room: the room's own `room.delete` already says it.
  if tg_op = 'DELETE' and not exists (select 1 from public.rooms r where r.id = row_room) then
    return null;
  end if;
  perform realtime.broadcast_changes('room:' || row_room::text, tg_argv[0] || '.' || lower(tg_op), tg_op,
                                     tg_table_name, tg_table_schema, new, old);
  return null;
end;
$$;

create trigger room_messages_broadcast after insert or update on public.room_messages
  for each row execute function private.broadcast_room_change('message');
create trigger message_reactions_broadcast after insert or delete on public.message_reactions
  for each row execute function private.broadcast_room_change('reaction');
create trigger room_members_broadcast after insert or update on public.room_members
  for each row execute function private.broadcast_room_change('member');

/** Broadcasts room updates and deletions to the room's own topic (rooms rows have `id`, not `room_id`). */
create function private.broadcast_room_row() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform realtime.broadcast_changes('room:' || coalesce(new.id, old.id)::text, 'room.' || lower(tg_op), tg_op,
                                     tg_table_name, tg_table_schema, new, old);
  return null;
end;
$$;
create trigger rooms_broadcast after update or delete on public.rooms
  for each row execute function private.broadcast_room_row();

/** New invites reach the invitee on `user:<invitee_id>`; status changes reach the invitee and the room. */
create function private.broadcast_invite() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform realtime.broadcast_changes('user:' || new.invitee_id::text, 'invite.' || lower(tg_op), tg_op,
                                     tg_table_name, tg_table_schema, new, old);
  if tg_op = 'UPDATE' then
    perform realtime.broadcast_changes('room:' || new.room_id::text, 'invite.update', tg_op,
                                       tg_table_name, tg_table_schema, new, old);
  end if;
  return null;
end;
$$;
create trigger room_invites_broadcast after insert or update on public.room_invites
  for each row execute function private.broadcast_invite();

/**
 * Live lobby counts: after any membership change in a coworking room, its new count goes to the
 * private topic `coworking:lobby` (private so that only this trigger can send there).
 */
create function private.broadcast_coworking_count() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  row_room uuid := coalesce(new.room_id, old.room_id);
begin
  if (tg_op = 'INSERT' or old.left_at is distinct from new.left_at) and private.is_coworking_room(row_room) then
    perform realtime.send(
      jsonb_build_object('room_id', row_room, 'participant_count',
        (select count(*) from public.room_members m where m.room_id = row_room and m.left_at is null)),
      'room.count', 'coworking:lobby', true);
  end if;
  return null;
end;
$$;
create trigger room_members_lobby_count after insert or update on public.room_members
  for each row execute function private.broadcast_coworking_count();

-- Who may receive (select) and send (insert) on private channels. No insert policy names
-- `room:<id>`, `user:<id>` or `coworking:lobby`: only the database (and the service role) sends there.
create policy "Room members can receive database events of their room" on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and private.is_room_member(private.room_id_from_topic((select realtime.topic()))));
create policy "Room members can receive signals and presence of their room" on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension in ('broadcast', 'presence')
    and private.is_room_member(private.room_id_from_live_topic((select realtime.topic()))));
create policy "Room members can send signals and presence to their room" on realtime.messages
  for insert to authenticated
  with check (
    realtime.messages.extension in ('broadcast', 'presence')
    and private.is_room_member(private.room_id_from_live_topic((select realtime.topic()))));
create policy "Users can receive their own notifications" on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and (select realtime.topic()) = 'user:' || (select auth.uid())::text);
create policy "Anyone can receive coworking lobby counts" on realtime.messages
  for select to anon, authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and (select realtime.topic()) = 'coworking:lobby');
