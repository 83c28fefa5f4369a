-- Messages and reactions: room history with keyset pagination newest first by (created_at, id),
-- soft delete, read markers (room_members.last_read_at) and emoji reactions.
-- One write path each: messages through send_message / delete_message, reactions by insert and
-- delete on the table under RLS. System and AI messages come only from Roomkit's own functions.

-- types
create type roomkit.message_kind as enum ('text', 'emoji', 'system', 'ai');

-- tables
/** Chat history. Soft delete keeps the row and clears the body. */
create table roomkit.room_messages (
  id uuid primary key default gen_random_uuid(),
  room_id uuid not null references roomkit.rooms (id) on delete cascade,
  sender_id uuid references roomkit.profiles (id) on delete set null,
  kind roomkit.message_kind not null default 'text',
  body text,
  -- Written by Roomkit only (system events, AI replies), never by clients; bounded.
  metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object' and octet_length(metadata::text) <= 4096),
  created_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint room_messages_body_check check (
    case
      when deleted_at is not null then body is null
      when kind = 'text' then char_length(body) between 1 and 4000 and not roomkit_private.is_blank(body)
      when kind = 'emoji' then char_length(body) between 1 and 32 and not roomkit_private.is_blank(body)
      else char_length(body) between 1 and 16000
    end),
  constraint room_messages_system_has_no_sender check (kind <> 'system' or sender_id is null)
);
comment on table roomkit.room_messages is 'Chat history. Members send text and emoji through send_message; system and ai messages come from Roomkit''s functions.';
alter table roomkit.room_messages enable row level security;

/** One row per (message, user, emoji). room_id is copied from the message by a trigger. */
create table roomkit.message_reactions (
  message_id uuid not null references roomkit.room_messages (id) on delete cascade,
  user_id uuid not null references roomkit.profiles (id) on delete cascade,
  emoji text not null check (char_length(emoji) between 1 and 32 and not roomkit_private.is_blank(emoji)),
  room_id uuid not null references roomkit.rooms (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (message_id, user_id, emoji)
);
comment on table roomkit.message_reactions is 'Emoji reactions. Members add and remove their own.';
alter table roomkit.message_reactions enable row level security;

-- indexes
create index room_messages_page_idx on roomkit.room_messages (room_id, created_at desc, id desc);
create index room_messages_sender_idx on roomkit.room_messages (sender_id);
create index message_reactions_room_idx on roomkit.message_reactions (room_id);
create index message_reactions_user_idx on roomkit.message_reactions (user_id);

-- policies
create policy "Members can read their rooms' messages" on roomkit.room_messages
  for select to authenticated using (room_id = any (array(select roomkit_private.my_room_ids())));

create policy "Members can read their rooms' reactions" on roomkit.message_reactions
  for select to authenticated using (room_id = any (array(select roomkit_private.my_room_ids())));
create policy "Members can react as themselves to messages that are not deleted" on roomkit.message_reactions
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and room_id = any (array(select roomkit_private.my_room_ids()))
    and exists (select 1 from roomkit.room_messages m where m.id = message_id and m.deleted_at is null));
create policy "Members can remove their own reactions" on roomkit.message_reactions
  for delete to authenticated
  using (user_id = (select auth.uid()) and room_id = any (array(select roomkit_private.my_room_ids())));

-- functions
/** Sends a text or emoji message as the caller. Errors: 403 not_member; 409 room_inactive; 400 invalid_input. */
create function roomkit_private.send_message(room_id uuid, body text, kind roomkit.message_kind)
returns roomkit.room_messages language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  message roomkit.room_messages;
begin
  if send_message.kind is null or send_message.kind not in ('text', 'emoji') then
    perform roomkit_private.invalid_input('kind must be text or emoji');
  end if;
  if roomkit_private.is_blank(send_message.body)
     or char_length(send_message.body) > (case when send_message.kind = 'text' then 4000 else 32 end) then
    perform roomkit_private.invalid_input(case when send_message.kind = 'text'
      then 'Message text must be 1 to 4000 characters, not only blanks'
      else 'An emoji message must be 1 to 32 characters' end);
  end if;
  if not roomkit_private.is_room_member(send_message.room_id) then
    perform roomkit_private.not_member();
  end if;
  if exists (select 1 from roomkit.rooms r where r.id = send_message.room_id and r.status <> 'active') then
    raise exception using errcode = 'PT409', message = 'This room is closed', hint = 'room_inactive';
  end if;
  insert into roomkit.room_messages (room_id, sender_id, kind, body)
  values (send_message.room_id, uid, send_message.kind, send_message.body)
  returning * into message;
  return message;
end;
$$;

/** Soft-deletes one of the caller's own messages (idempotent). Errors: 404 message_not_found. */
create function roomkit_private.delete_message(message_id uuid) returns roomkit.room_messages
language plpgsql security definer set search_path = '' as $$
declare
  uid uuid := roomkit_private.require_user();
  message roomkit.room_messages;
begin
  select * into message from roomkit.room_messages m
  where m.id = delete_message.message_id and m.sender_id = uid and roomkit_private.is_room_member(m.room_id)
  for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'Message not found', hint = 'message_not_found';
  end if;
  if message.deleted_at is null then
    update roomkit.room_messages m set deleted_at = now(), body = null where m.id = message.id returning * into message;
  end if;
  return message;
end;
$$;

/** Unread messages (by others, not deleted) per room the caller is in. */
create function roomkit_private.room_unread_counts() returns table (room_id uuid, unread_count bigint)
language sql stable security definer set search_path = '' as $$
  select m.room_id, count(msg.id)
  from roomkit.room_members m
  left join roomkit.room_messages msg
    on msg.room_id = m.room_id and msg.created_at > m.last_read_at
   and msg.sender_id is distinct from m.user_id and msg.deleted_at is null
  where m.user_id = (select auth.uid()) and m.left_at is null
  group by m.room_id
$$;

create function roomkit.send_message(room_id uuid, body text, kind roomkit.message_kind default 'text')
returns roomkit.room_messages language sql set search_path = '' as $$
  select roomkit_private.send_message(send_message.room_id, send_message.body, send_message.kind)
$$;
create function roomkit.delete_message(message_id uuid) returns roomkit.room_messages
language sql set search_path = '' as $$
  select roomkit_private.delete_message(delete_message.message_id)
$$;
create function roomkit.room_unread_counts() returns table (room_id uuid, unread_count bigint)
language sql stable set search_path = '' as $$
  select * from roomkit_private.room_unread_counts()
$$;

-- triggers
/** Copies room_id from the reacted message (clients cannot choose it). */
create function roomkit_private.fill_reaction_room() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  select m.room_id into new.room_id from roomkit.room_messages m where m.id = new.message_id;
  return new;
end;
$$;
create trigger message_reactions_fill_room before insert on roomkit.message_reactions
  for each row execute function roomkit_private.fill_reaction_room();

-- grants
grant all on roomkit.room_messages, roomkit.message_reactions to service_role;
grant select on roomkit.room_messages to authenticated;
grant select, delete on roomkit.message_reactions to authenticated;
grant insert (message_id, user_id, emoji) on roomkit.message_reactions to authenticated;
grant execute on function roomkit_private.send_message(uuid, text, roomkit.message_kind),
  roomkit_private.delete_message(uuid), roomkit_private.room_unread_counts()
  to authenticated, service_role;
grant execute on function roomkit.send_message(uuid, text, roomkit.message_kind), roomkit.delete_message(uuid),
  roomkit.room_unread_counts()
  to authenticated, service_role;
