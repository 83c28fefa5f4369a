-- Notifications: invites, @mentions and AI replies reach people who are not looking, by email and
-- Web Push. Triggers write an outbox in the same transaction as the invite or the message; the
-- `notify` function (service role; pg_cron in production, the local stack's job locally) claims
-- due rows, checks preferences and whether the recipient has already read the message, and sends.
--
--   roomkit.push_subscriptions        a browser's PushSubscription, own rows only
--   roomkit.notification_preferences  per user, per kind (invites, mentions, AI replies); no row = all on
--   roomkit_private.notifications     the outbox (never exposed)
--
-- A mention or an AI reply waits `limits.notify_delay_seconds` and is dropped if the recipient's
-- read marker has passed the message by then (they saw it). Nothing is queued for a kind the
-- recipient switched off, for mentions in coworking rooms (participants are there), or beyond
-- `notifications_per_pair_per_minute` from one sender to one recipient and
-- `notifications_per_sender_per_minute` from one sender in all. Only users with a confirmed email
-- who are not anonymous may invite by email, and Auth's invite mail to addresses without an account
-- is capped per inviter per day. A user Auth invited who has not accepted yet has a hidden profile,
-- so an invite never shows whether an address had an account.

-- types
create type roomkit.notification_kind as enum ('invite', 'mention', 'ai_reply');

-- tables
alter table roomkit_private.limits
  add column notifications_per_pair_per_minute integer not null default 5 check (notifications_per_pair_per_minute > 0),
  add column notifications_per_sender_per_minute integer not null default 30
    check (notifications_per_sender_per_minute > 0),
  add column auth_invites_per_day integer not null default 20 check (auth_invites_per_day >= 0),
  add column notify_delay_seconds integer not null default 20 check (notify_delay_seconds between 0 and 3600);

-- Set while Auth has invited this user and they have not followed the link: such a profile exists
-- only because someone invited the address, so nobody but its owner sees it.
alter table roomkit.profiles add column auth_invite_pending boolean not null default false;

create table roomkit.push_subscriptions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references roomkit.profiles (id) on delete cascade,
  -- PushSubscription.toJSON(): the push service's URL and the keys the payload is encrypted for.
  endpoint text not null check (char_length(endpoint) <= 2048 and endpoint ~ '^https?://[^[:space:]]+$'),
  p256dh text not null check (p256dh ~ '^[A-Za-z0-9_+/-]{86,88}={0,2}$'),
  auth text not null check (auth ~ '^[A-Za-z0-9_+/-]{21,24}={0,2}$'),
  user_agent text check (user_agent is null or char_length(user_agent) <= 512),
  -- The Auth session that registered it (from the token): it receives pushes only while that
  -- session lives, so signing out anywhere, or a revoked session, ends its pushes.
  session_id uuid,
  created_at timestamptz not null default now(),
  last_push_at timestamptz,
  unique (user_id, endpoint)
);
comment on table roomkit.push_subscriptions is 'Browser push subscriptions; each user reads and writes only their own.';
alter table roomkit.push_subscriptions enable row level security;

create table roomkit.notification_preferences (
  user_id uuid primary key default auth.uid() references roomkit.profiles (id) on delete cascade,
  invites boolean not null default true,
  mentions boolean not null default true,
  ai_replies boolean not null default true,
  updated_at timestamptz not null default now()
);
comment on table roomkit.notification_preferences is 'Which kinds of notification a user gets, by email and push alike; no row means all.';
alter table roomkit.notification_preferences enable row level security;

create table roomkit_private.notifications (
  id bigint generated always as identity primary key,
  kind roomkit.notification_kind not null,
  room_id uuid not null references roomkit.rooms (id) on delete cascade,
  -- A user, or (an invite by email) an address that may have no account yet.
  recipient_id uuid references roomkit.profiles (id) on delete cascade,
  recipient_email text,
  invite_id uuid references roomkit.room_invites (id) on delete cascade,
  message_id uuid references roomkit.room_messages (id) on delete cascade,
  actor_id uuid references roomkit.profiles (id) on delete set null,
  -- An invite to an address nobody holds confirmed: Auth's invite mail, counted against the inviter.
  auth_invite boolean not null default false,
  created_at timestamptz not null default now(),
  deliver_after timestamptz not null default now(),
  lease_id uuid,
  lease_until timestamptz,
  attempts integer not null default 0,
  sent_at timestamptz,
  -- What was done: {"push": n, "email": "sent" | …} or {"skipped": reason}.
  outcome jsonb,
  constraint notifications_names_someone check (recipient_id is not null or recipient_email is not null)
);
comment on table roomkit_private.notifications is 'Notification outbox: written by triggers, drained by the notify function.';
alter table roomkit_private.notifications enable row level security;
-- No policies: only the triggers and the service role touch it.

-- indexes
create index notifications_due_idx on roomkit_private.notifications (deliver_after, id) where sent_at is null;
create index notifications_sent_idx on roomkit_private.notifications (sent_at) where sent_at is not null;
create index notifications_recipient_idx on roomkit_private.notifications (recipient_id) where recipient_id is not null;
create index notifications_room_idx on roomkit_private.notifications (room_id);
create index notifications_invite_idx on roomkit_private.notifications (invite_id) where invite_id is not null;
create index notifications_message_idx on roomkit_private.notifications (message_id) where message_id is not null;
create index notifications_actor_recent_idx on roomkit_private.notifications (actor_id, created_at)
  where actor_id is not null;

-- helpers
/**
 * Does `body` mention `display_name` as `@display_name` (case-insensitive, not followed by a letter,
 * digit or underscore)? Names may hold spaces and punctuation, which are matched literally.
 */
create function roomkit_private.mentions(body text, display_name text) returns boolean
language sql immutable parallel safe set search_path = '' as $$
  select strpos(lower(mentions.body), '@' || lower(mentions.display_name)) > 0
     and lower(mentions.body) ~ ('(^|[^[:alnum:]_])@'
                                 || regexp_replace(lower(mentions.display_name), '([^[:alnum:][:space:]])', '\\\1', 'g')
                                 || '($|[^[:alnum:]_])')
$$;

/**
 * Queues one notification, unless the recipient switched this kind off, or the sender has already
 * caused `notifications_per_pair_per_minute` to this recipient or `notifications_per_sender_per_minute`
 * in all (AI replies: only the pair limit; the AI's own limits apply), or (an invite to an address
 * nobody holds confirmed, which Auth mails) the inviter has had `auth_invites_per_day` of those.
 * Counting is per sender, so nobody can use up someone's notifications from others. The inviter is
 * told nothing either way. Wakes the sender.
 */
create function roomkit_private.enqueue_notification(kind roomkit.notification_kind, room_id uuid,
                                                     recipient_id uuid, recipient_email text,
                                                     invite_id uuid, message_id uuid, actor_id uuid,
                                                     delay_seconds integer)
returns void language plpgsql security definer set search_path = '' as $$
declare
  lim roomkit_private.limits;
  wanted boolean;
  auth_invite boolean;
begin
  select * into lim from roomkit_private.limits;
  select case enqueue_notification.kind when 'invite' then p.invites when 'mention' then p.mentions
              else p.ai_replies end
  into wanted
  from roomkit.notification_preferences p where p.user_id = enqueue_notification.recipient_id;
  if wanted is false then
    return;
  end if;
  if enqueue_notification.actor_id is not null then
    if (select count(*) from roomkit_private.notifications n
        where n.actor_id = enqueue_notification.actor_id and n.created_at > now() - interval '1 minute'
          and n.recipient_id is not distinct from enqueue_notification.recipient_id
          and n.recipient_email is not distinct from enqueue_notification.recipient_email)
       >= lim.notifications_per_pair_per_minute
       or (enqueue_notification.kind <> 'ai_reply'
           and (select count(*) from roomkit_private.notifications n
                where n.actor_id = enqueue_notification.actor_id and n.created_at > now() - interval '1 minute')
               >= lim.notifications_per_sender_per_minute) then
      return;
    end if;
  end if;
  -- Invites are queued under the inviter's lock (send_invite), so this count cannot be raced.
  auth_invite := enqueue_notification.recipient_email is not null and not exists (
    select 1 from auth.users u
    where u.email = enqueue_notification.recipient_email and u.email_confirmed_at is not null);
  if auth_invite and (select count(*) from roomkit_private.notifications n
                      where n.actor_id = enqueue_notification.actor_id and n.auth_invite
                        and n.created_at > now() - interval '1 day') >= lim.auth_invites_per_day then
    return;
  end if;
  insert into roomkit_private.notifications
    (kind, room_id, recipient_id, recipient_email, invite_id, message_id, actor_id, auth_invite, deliver_after)
  values (enqueue_notification.kind, enqueue_notification.room_id, enqueue_notification.recipient_id,
          enqueue_notification.recipient_email, enqueue_notification.invite_id, enqueue_notification.message_id,
          enqueue_notification.actor_id, auth_invite,
          now() + make_interval(secs => enqueue_notification.delay_seconds));
  perform pg_notify('roomkit_notify', enqueue_notification.kind::text);
end;
$$;

-- policies
drop policy "Signed-in users can read profiles" on roomkit.profiles;
create policy "Signed-in users can read profiles" on roomkit.profiles
  for select to authenticated using (not auth_invite_pending or id = (select auth.uid()));

create policy "Users see their own push subscriptions" on roomkit.push_subscriptions for select
  to authenticated using (user_id = (select auth.uid()) and (select roomkit_private.session_is_live()));
create policy "Users add their own push subscriptions" on roomkit.push_subscriptions for insert
  to authenticated with check (user_id = (select auth.uid()) and (select roomkit_private.session_is_live()));
create policy "Users renew their own push subscriptions" on roomkit.push_subscriptions for update
  to authenticated using (user_id = (select auth.uid()) and (select roomkit_private.session_is_live()))
  with check (user_id = (select auth.uid()));
create policy "Users remove their own push subscriptions" on roomkit.push_subscriptions for delete
  to authenticated using (user_id = (select auth.uid()) and (select roomkit_private.session_is_live()));

create policy "Users see their own notification preferences" on roomkit.notification_preferences for select
  to authenticated using (user_id = (select auth.uid()) and (select roomkit_private.session_is_live()));
create policy "Users set their own notification preferences" on roomkit.notification_preferences for insert
  to authenticated with check (user_id = (select auth.uid()) and (select roomkit_private.session_is_live()));
create policy "Users change their own notification preferences" on roomkit.notification_preferences for update
  to authenticated using (user_id = (select auth.uid()) and (select roomkit_private.session_is_live()))
  with check (user_id = (select auth.uid()));

-- functions
/**
 * Claims up to `max_count` due notifications for one sender under a fresh lease (120 s; `lease_id`
 * must be handed back to `finish_notification`, so an instance whose lease ran out cannot record
 * anything, and instances never claim the same row at once). At most 5 attempts. Each comes with
 * what sending it needs: the recipient (an invite by email resolves to whoever holds that
 * confirmed address now; `email` only when confirmed), what the address is to Auth when nobody
 * holds it confirmed (`none`; `invited`: Auth invited it and nobody has set a password;
 * `unconfirmed`: someone signed up with it and never confirmed), the preferences, the room, the
 * actor's name, the invite or message, and whether the recipient left the room or read past the message.
 * Who: service_role.
 */
create function roomkit_private.claim_notifications(max_count integer default 50)
returns setof jsonb language plpgsql security definer set search_path = '' as $$
declare
  lease uuid := gen_random_uuid();
begin
  return query
  with claimed as (
    update roomkit_private.notifications n
    set lease_id = lease, lease_until = now() + interval '120 seconds', attempts = n.attempts + 1
    where n.id in (select d.id from roomkit_private.notifications d
                   where d.sent_at is null and d.deliver_after <= now() and d.attempts < 5
                     and (d.lease_until is null or d.lease_until < now())
                   order by d.deliver_after, d.id
                   limit greatest(1, least(claim_notifications.max_count, 500))
                   for update skip locked)
    returning n.*
  )
  select jsonb_build_object(
    'id', c.id, 'lease_id', c.lease_id, 'kind', c.kind, 'attempts', c.attempts,
    'room', jsonb_build_object('id', r.id, 'name', r.name, 'kind', r.kind),
    'actor_name', actor.display_name,
    'recipient', jsonb_build_object(
      'id', who.id,
      'email', case when who.email_confirmed_at is not null then who.email::text end,
      'address', c.recipient_email,
      'address_state', case
        when who.id is not null or c.recipient_email is null then null
        when stranger.id is null then 'none'
        when stranger.invited_at is not null and coalesce(stranger.encrypted_password, '') = '' then 'invited'
        else 'unconfirmed' end,
      'invites', coalesce(pref.invites, true), 'mentions', coalesce(pref.mentions, true),
      'ai_replies', coalesce(pref.ai_replies, true)),
    'invite', case when i.id is null then null
                   else jsonb_build_object('id', i.id, 'pending', i.status = 'pending' and i.expires_at > now()) end,
    'message', case when msg.id is null then null
                    else jsonb_build_object('id', msg.id, 'body', msg.body, 'deleted', msg.deleted_at is not null) end,
    'in_room', mem.user_id is not null,
    'read', coalesce(mem.last_read_at >= msg.created_at, false))
  from claimed c
  join roomkit.rooms r on r.id = c.room_id
  left join roomkit.profiles actor on actor.id = c.actor_id
  left join roomkit.room_invites i on i.id = c.invite_id
  left join roomkit.room_messages msg on msg.id = c.message_id
  cross join lateral (
    select coalesce(c.recipient_id, (select u.id from auth.users u
                                     where u.email = c.recipient_email and u.email_confirmed_at is not null
                                     limit 1)) as id) rid
  left join auth.users who on who.id = rid.id
  left join lateral (select u.id, u.invited_at, u.encrypted_password from auth.users u
                     where who.id is null and u.email = c.recipient_email
                     order by u.created_at limit 1) stranger on true
  left join roomkit.notification_preferences pref on pref.user_id = who.id
  left join roomkit.room_members mem on mem.room_id = c.room_id and mem.user_id = who.id and mem.left_at is null
  order by c.deliver_after, c.id;
end;
$$;

/**
 * Records what sending did, if `lease_id` still holds the notification. `retry` puts it back for
 * another attempt (after 30 s × attempts) unless it has had 5; otherwise it is finished with `outcome`.
 * Returns whether the lease still held.
 * Who: service_role.
 */
create function roomkit_private.finish_notification(id bigint, lease_id uuid, outcome jsonb,
                                                    retry boolean default false)
returns boolean language sql security definer set search_path = '' as $$
  with done as (
    update roomkit_private.notifications n
    set lease_id = null, lease_until = null,
        deliver_after = case when finish_notification.retry and n.attempts < 5
                             then now() + make_interval(secs => 30 * n.attempts) else n.deliver_after end,
        sent_at = case when finish_notification.retry and n.attempts < 5 then null else now() end,
        outcome = finish_notification.outcome
    where n.id = finish_notification.id and n.lease_id = finish_notification.lease_id
    returning 1)
  select exists (select 1 from done)
$$;

/** Forgets notifications sent more than 7 days ago (at most 1,000 a call). Who: service_role. */
create function roomkit_private.prune_notifications() returns integer
language sql security definer set search_path = '' as $$
  with gone as (
    delete from roomkit_private.notifications n
    where n.id in (select o.id from roomkit_private.notifications o
                   where o.sent_at < now() - interval '7 days' limit 1000)
    returning 1)
  select count(*)::integer from gone
$$;

/**
 * The subscriptions a push to `user_id` goes to: those whose Auth session still lives (or that were
 * saved with a server-minted token, which has no session). Subscriptions of ended sessions are
 * deleted here, unsent.
 * Who: service_role.
 */
create function roomkit_private.push_targets(user_id uuid)
returns table (id uuid, endpoint text, p256dh text, auth text)
language plpgsql security definer set search_path = '' as $$
begin
  delete from roomkit.push_subscriptions s
  where s.user_id = push_targets.user_id and s.session_id is not null
    and not exists (select 1 from auth.sessions a where a.id = s.session_id);
  return query select s.id, s.endpoint, s.p256dh, s.auth from roomkit.push_subscriptions s
               where s.user_id = push_targets.user_id;
end;
$$;

/**
 * A subscription records the Auth session that saves it (the token's `session_id`), and a user
 * keeps at most 10 (each costs a request per notification); the count is taken under a per-user
 * lock, so parallel saves cannot pass it.
 */
create function roomkit_private.prepare_push_subscription() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if auth.uid() is not null then
    new.session_id := nullif(auth.jwt() ->> 'session_id', '')::uuid;
  end if;
  if tg_op = 'INSERT' then
    perform pg_advisory_xact_lock(hashtextextended('roomkit_push_subscriptions:' || new.user_id::text, 0));
    if (select count(*) from roomkit.push_subscriptions s where s.user_id = new.user_id) >= 10 then
      perform roomkit_private.invalid_input('At most 10 push subscriptions per user: remove one first');
    end if;
  end if;
  return new;
end;
$$;

/**
 * Only a user with a confirmed email who is not anonymous may invite by email: an invite by email
 * can make Auth send mail to the address, and the project's mail is a shared budget.
 */
create function roomkit_private.check_email_inviter() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.invitee_email is not null and new.inviter_id is not null and not exists (
      select 1 from auth.users u
      where u.id = new.inviter_id and u.email_confirmed_at is not null and not u.is_anonymous) then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'Confirm your email address (guests cannot) before inviting someone by email';
  end if;
  return new;
end;
$$;

/** Keeps `profiles.auth_invite_pending` in step with Auth: invited and not yet confirmed. */
create function roomkit_private.track_auth_invite() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  update roomkit.profiles p
  set auth_invite_pending = (new.invited_at is not null and new.email_confirmed_at is null)
  where p.id = new.id and p.auth_invite_pending is distinct from (new.invited_at is not null and new.email_confirmed_at is null);
  return null;
end;
$$;

/** A new invite notifies the invitee (or the address) at once. */
create function roomkit_private.notify_invite() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform roomkit_private.enqueue_notification('invite', new.room_id, new.invitee_id, new.invitee_email,
                                               new.id, null, new.inviter_id, 0);
  return null;
end;
$$;

/**
 * A member's text message in a private room notifies each other member it @mentions (coworking
 * participants are in the room by definition); an AI reply notifies the member who asked. Both wait
 * `notify_delay_seconds`, so a recipient who is looking reads it first.
 */
create function roomkit_private.notify_message() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  delay integer := (select l.notify_delay_seconds from roomkit_private.limits l);
  asker uuid;
  mentioned uuid;
begin
  if new.kind = 'text' and new.sender_id is not null and strpos(new.body, '@') > 0
     and (select r.kind from roomkit.rooms r where r.id = new.room_id) = 'private' then
    for mentioned in
      select m.user_id from roomkit.room_members m join roomkit.profiles p on p.id = m.user_id
      where m.room_id = new.room_id and m.left_at is null and m.user_id <> new.sender_id and not p.is_ai
        and roomkit_private.mentions(new.body, p.display_name)
    loop
      perform roomkit_private.enqueue_notification('mention', new.room_id, mentioned, null, null, new.id,
                                                   new.sender_id, delay);
    end loop;
  elsif new.kind = 'ai' and new.metadata ? 'reply_to' then
    select q.sender_id into asker from roomkit.room_messages q
    where q.id = (new.metadata ->> 'reply_to')::uuid and q.room_id = new.room_id;
    if asker is not null then
      perform roomkit_private.enqueue_notification('ai_reply', new.room_id, asker, null, null, new.id,
                                                   new.sender_id, delay);
    end if;
  end if;
  return null;
end;
$$;

-- triggers
create trigger push_subscriptions_prepare before insert or update on roomkit.push_subscriptions
  for each row execute function roomkit_private.prepare_push_subscription();
create trigger room_invites_check_email_inviter before insert on roomkit.room_invites
  for each row execute function roomkit_private.check_email_inviter();
-- Named to run after roomkit_on_auth_user_created, which makes the profile.
create trigger roomkit_on_auth_user_invited after insert or update of invited_at, email_confirmed_at on auth.users
  for each row execute function roomkit_private.track_auth_invite();
create trigger room_invites_notify after insert on roomkit.room_invites
  for each row execute function roomkit_private.notify_invite();
create trigger room_messages_notify after insert on roomkit.room_messages
  for each row execute function roomkit_private.notify_message();

-- grants
grant select, delete on roomkit.push_subscriptions to authenticated;
grant insert (endpoint, p256dh, auth, user_agent) on roomkit.push_subscriptions to authenticated;
grant update (endpoint, p256dh, auth, user_agent) on roomkit.push_subscriptions to authenticated;
grant select, update (last_push_at), delete on roomkit.push_subscriptions to service_role;
grant select on roomkit.notification_preferences to authenticated, service_role;
grant insert (invites, mentions, ai_replies), update (invites, mentions, ai_replies, updated_at)
  on roomkit.notification_preferences to authenticated;
revoke all on roomkit_private.notifications from public, anon, authenticated;
grant select on roomkit_private.notifications to service_role;
revoke all on function roomkit_private.mentions(text, text), roomkit_private.enqueue_notification(
  roomkit.notification_kind, uuid, uuid, text, uuid, uuid, uuid, integer),
  roomkit_private.claim_notifications(integer), roomkit_private.finish_notification(bigint, uuid, jsonb, boolean),
  roomkit_private.prune_notifications(), roomkit_private.push_targets(uuid)
  from public, anon, authenticated;
grant execute on function roomkit_private.claim_notifications(integer),
  roomkit_private.finish_notification(bigint, uuid, jsonb, boolean), roomkit_private.prune_notifications(),
  roomkit_private.push_targets(uuid)
  to service_role;
