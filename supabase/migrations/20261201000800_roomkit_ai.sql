-- The AI participant: a reply queue filled by a trigger on new messages and drained by the
-- `ai-reply` edge function (acting as the system with the service role).
--
-- Flow: a human text message in a private room whose ai_mode asks for a reply → one row in
-- roomkit_private.ai_jobs + NOTIFY roomkit_ai_jobs → a worker claims the job (FOR UPDATE SKIP LOCKED,
-- one running reply per room, a lease that expires), streams the provider's answer to the room's
-- Realtime topic and finally calls complete_ai_job (ONE `ai` message) or fail_ai_job (retry with
-- backoff, or give up with ONE system message). Rate limit and daily token budget end in one
-- system message each, never in silence.
--
-- Nothing here is exposed over the Data API: tables are revoked from the API roles and the
-- functions are executable by service_role only.

-- tables
/** Knobs of the AI participant (one row). Operators change it with plain SQL. */
create table roomkit_private.ai_settings (
  id boolean primary key default true check (id),
  replies_per_minute integer not null default 6 check (replies_per_minute > 0),
  daily_token_budget bigint not null default 200000 check (daily_token_budget >= 0),
  -- Per asking user, across all their rooms (a user with many rooms does not multiply the limits).
  replies_per_minute_per_user integer not null default 6 check (replies_per_minute_per_user > 0),
  daily_user_token_budget bigint not null default 50000 check (daily_user_token_budget >= 0),
  max_attempts integer not null default 3 check (max_attempts between 1 and 10),
  retry_base_seconds numeric not null default 5 check (retry_base_seconds >= 0),
  lease_seconds integer not null default 120 check (lease_seconds between 1 and 3600),
  context_messages integer not null default 20 check (context_messages between 1 and 100)
);
comment on table roomkit_private.ai_settings is 'One row: AI rate limits and daily token budgets per room and per user, retries, lease and context size.';
insert into roomkit_private.ai_settings default values;

/**
 * One requested AI reply. `queued` → `running` (leased to a worker) → `done` | `failed` | `skipped`;
 * a failed attempt goes back to `queued` with a later run_after until max_attempts.
 */
create table roomkit_private.ai_jobs (
  id bigint generated always as identity primary key,
  room_id uuid not null references roomkit.rooms (id) on delete cascade,
  message_id uuid not null references roomkit.room_messages (id) on delete cascade,
  -- Who asked (the trigger message's sender): per-user limits count by this.
  requested_by uuid references roomkit.profiles (id) on delete set null,
  status text not null default 'queued' check (status in ('queued', 'running', 'done', 'failed', 'skipped')),
  attempts integer not null default 0,
  run_after timestamptz not null default now(),
  lease_id uuid,
  lease_expires_at timestamptz,
  last_error text,
  reply_message_id uuid references roomkit.room_messages (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  constraint ai_jobs_running_has_lease check ((status = 'running') = (lease_id is not null and lease_expires_at is not null))
);
comment on table roomkit_private.ai_jobs is 'AI reply queue; written by the message trigger and the service-role worker functions below.';

/** Tokens spent per room and UTC day, for the daily budget. */
create table roomkit_private.ai_usage (
  room_id uuid not null references roomkit.rooms (id) on delete cascade,
  day date not null,
  prompt_tokens bigint not null default 0,
  completion_tokens bigint not null default 0,
  replies integer not null default 0,
  primary key (room_id, day)
);
comment on table roomkit_private.ai_usage is 'AI token usage per room and UTC day (estimated when the provider reports none).';

/** Tokens spent on replies each user asked for, per UTC day, for the per-user budget. */
create table roomkit_private.ai_user_usage (
  user_id uuid not null references roomkit.profiles (id) on delete cascade,
  day date not null,
  tokens bigint not null default 0,
  replies integer not null default 0,
  primary key (user_id, day)
);
comment on table roomkit_private.ai_user_usage is 'AI token usage per asking user and UTC day.';

-- indexes
create index ai_jobs_ready_idx on roomkit_private.ai_jobs (run_after, id) where status = 'queued';
-- The hard guarantee behind "one reply at a time per room": a second running job cannot exist.
create unique index ai_jobs_one_running_per_room_idx on roomkit_private.ai_jobs (room_id) where status = 'running';
create index ai_jobs_room_recent_idx on roomkit_private.ai_jobs (room_id, created_at);
create index ai_jobs_message_idx on roomkit_private.ai_jobs (message_id);
create index ai_jobs_reply_message_idx on roomkit_private.ai_jobs (reply_message_id);
create index ai_jobs_requested_by_idx on roomkit_private.ai_jobs (requested_by, created_at);

-- helpers

/** Does the text mention the AI (`@ai`, any case, as a whole word)? `email@ai.dev` does not. */
create function roomkit_private.mentions_ai(body text) returns boolean
language sql immutable set search_path = '' as $$
  select coalesce(mentions_ai.body ~* '(^|[^[:alnum:]_@.])@ai($|[^[:alnum:]_@])', false)
$$;

/** Advisory lock key for one room and purpose (enqueue / claim): two independent lock spaces. */
create function roomkit_private.ai_lock_key(purpose text, room_id uuid) returns bigint
language sql immutable set search_path = '' as $$
  select hashtextextended('roomkit_ai:' || ai_lock_key.purpose || ':' || ai_lock_key.room_id::text, 0)
$$;

/** Today's tokens for a room (UTC day). */
create function roomkit_private.ai_tokens_today(room_id uuid) returns bigint
language sql stable security definer set search_path = '' as $$
  select coalesce((select u.prompt_tokens + u.completion_tokens from roomkit_private.ai_usage u
                   where u.room_id = ai_tokens_today.room_id and u.day = (now() at time zone 'utc')::date), 0)
$$;

/** Today's tokens spent on replies a user asked for (UTC day). */
create function roomkit_private.ai_user_tokens_today(user_id uuid) returns bigint
language sql stable security definer set search_path = '' as $$
  select coalesce((select u.tokens from roomkit_private.ai_user_usage u
                   where u.user_id = ai_user_tokens_today.user_id and u.day = (now() at time zone 'utc')::date), 0)
$$;

/**
 * Posts a system message about the AI unless one with the same `event` was posted in the room
 * since `quiet_since` — so a condition (rate limit, budget, no provider) is said once, not per message.
 * Returns whether it posted.
 */
create function roomkit_private.post_ai_notice(room_id uuid, event text, body text, quiet_since timestamptz)
returns boolean language plpgsql security definer set search_path = '' as $$
begin
  if exists (
    select 1 from roomkit.room_messages m
    where m.room_id = post_ai_notice.room_id and m.kind = 'system'
      and m.metadata ->> 'event' = post_ai_notice.event and m.created_at >= post_ai_notice.quiet_since) then
    return false;
  end if;
  -- clock_timestamp: the notice must sort after the message that caused it, even in the same transaction.
  insert into roomkit.room_messages (room_id, sender_id, kind, body, metadata, created_at)
  values (post_ai_notice.room_id, null, 'system', left(post_ai_notice.body, 16000),
          jsonb_build_object('event', post_ai_notice.event, 'user_id', roomkit_private.ai_user_id()), clock_timestamp());
  return true;
end;
$$;

/**
 * Trigger on new messages: queues an AI reply for human text messages in active private rooms
 * per ai_mode (`always`, or `mention` with `@ai`), unless the room's rate limit or daily token
 * budget says no (then one system message says why). Never for the AI's own or system messages.
 */
create function roomkit_private.queue_ai_reply() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  room roomkit.rooms;
  settings roomkit_private.ai_settings;
  refusal text;
  job_id bigint;
begin
  if new.kind <> 'text' or new.sender_id is null or new.deleted_at is not null
     or new.sender_id = roomkit_private.ai_user_id()
     or exists (select 1 from roomkit.profiles p where p.id = new.sender_id and p.is_ai) then
    return null;
  end if;
  select * into room from roomkit.rooms r where r.id = new.room_id;
  if room.kind is distinct from 'private' or room.status <> 'active' or room.ai_mode = 'off'
     or (room.ai_mode = 'mention' and not roomkit_private.mentions_ai(new.body)) then
    return null;
  end if;
  -- Serialises the limit checks of concurrent messages in this room and by this user (held to commit; short).
  perform pg_advisory_xact_lock(roomkit_private.ai_lock_key('enqueue', new.room_id));
  perform pg_advisory_xact_lock(roomkit_private.ai_lock_key('enqueue-user', new.sender_id));
  select * into settings from roomkit_private.ai_settings limit 1;

  refusal := case
    when (select count(*) from roomkit_private.ai_jobs j
          where j.room_id = new.room_id and j.created_at > now() - interval '1 minute' and j.status <> 'skipped')
         >= settings.replies_per_minute then 'rate_limited'
    when (select count(*) from roomkit_private.ai_jobs j
          where j.requested_by = new.sender_id and j.created_at > now() - interval '1 minute' and j.status <> 'skipped')
         >= settings.replies_per_minute_per_user then 'user_rate_limited'
    when roomkit_private.ai_tokens_today(new.room_id) >= settings.daily_token_budget then 'budget_exhausted'
    when roomkit_private.ai_user_tokens_today(new.sender_id) >= settings.daily_user_token_budget then 'user_budget_exhausted'
  end;
  if refusal is not null then
    insert into roomkit_private.ai_jobs (room_id, message_id, requested_by, status, last_error, finished_at)
    values (new.room_id, new.id, new.sender_id, 'skipped', refusal, now());
    perform roomkit_private.post_ai_notice(new.room_id, 'ai_' || refusal,
      case refusal
        when 'rate_limited' then format('Roomkit AI is pausing: this room reached its limit of %s AI replies per minute. Try again in a minute.', settings.replies_per_minute)
        when 'user_rate_limited' then format('Roomkit AI is pausing for %s: at most %s AI replies per minute per person. Try again in a minute.', roomkit_private.display_name(new.sender_id), settings.replies_per_minute_per_user)
        when 'budget_exhausted' then 'Roomkit AI has used up this room''s daily budget and will be back tomorrow (UTC).'
        else format('Roomkit AI has used up %s''s daily budget and will answer them again tomorrow (UTC).', roomkit_private.display_name(new.sender_id))
      end,
      case when refusal like '%rate_limited' then now() - interval '1 minute'
           else (now() at time zone 'utc')::date::timestamp at time zone 'utc' end);
    return null;
  end if;

  insert into roomkit_private.ai_jobs (room_id, message_id, requested_by) values (new.room_id, new.id, new.sender_id)
  returning id into job_id;
  -- Delivered at commit: the local dispatcher (or a Database Webhook in production) wakes a worker.
  perform pg_notify('roomkit_ai_jobs', json_build_object('job_id', job_id, 'room_id', new.room_id)::text);
  return null;
end;
$$;

/**
 * Retries a running job later (exponential backoff) or, after max_attempts or when not retryable,
 * marks it failed and posts one system message. Internal; lease already checked by the caller.
 * Returns the new status (`queued` or `failed`).
 */
create function roomkit_private.ai_job_retry_or_fail(job_id bigint, error text, retryable boolean, notice text)
returns text language plpgsql security definer set search_path = '' as $$
declare
  settings roomkit_private.ai_settings;
  job roomkit_private.ai_jobs;
begin
  select * into settings from roomkit_private.ai_settings limit 1;
  select * into job from roomkit_private.ai_jobs j where j.id = ai_job_retry_or_fail.job_id;
  if ai_job_retry_or_fail.retryable and job.attempts < settings.max_attempts then
    update roomkit_private.ai_jobs j
    set status = 'queued', lease_id = null, lease_expires_at = null, updated_at = now(),
        last_error = left(ai_job_retry_or_fail.error, 1000),
        run_after = now() + make_interval(secs => settings.retry_base_seconds * 2 ^ (job.attempts - 1))
    where j.id = job.id;
    return 'queued';
  end if;
  update roomkit_private.ai_jobs j
  set status = 'failed', lease_id = null, lease_expires_at = null, updated_at = now(), finished_at = now(),
      last_error = left(ai_job_retry_or_fail.error, 1000)
  where j.id = job.id;
  perform roomkit_private.post_ai_notice(job.room_id, 'ai_failed',
    coalesce(ai_job_retry_or_fail.notice,
             format('Roomkit AI could not reply after %s attempts. Please try again later.', job.attempts)),
    'infinity');
  return 'failed';
end;
$$;

/**
 * Claims the next AI job for a worker: the oldest ready job of a room that has no running reply.
 * Jobs whose lease expired (crashed worker) count as a failed attempt first. Jobs that no longer
 * make sense (message deleted, room closed or AI off, budget spent) are skipped on the way.
 * Returns null when nothing is ready, else the job with everything the worker needs:
 * `{job_id, reply_id, attempt, max_attempts, lease_expires_at, room {id, name, description},
 *   trigger_message_id, participants [{id, display_name, is_ai}], messages [{id, sender_id,
 *   sender_name, kind, body, created_at}] (oldest first, up to the trigger message)}`.
 * `reply_id` identifies this attempt: the worker passes it back, and clients see it in ai.* events.
 * Who: service_role (the ai-reply edge function).
 */
create function roomkit_private.claim_ai_job() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  settings roomkit_private.ai_settings;
  expired record;
  candidate record;
  job roomkit_private.ai_jobs;
  room roomkit.rooms;
  trigger_message roomkit.room_messages;
  reason text;
begin
  select * into settings from roomkit_private.ai_settings limit 1;

  for expired in
    select j.id from roomkit_private.ai_jobs j
    where j.status = 'running' and j.lease_expires_at < now()
    for update skip locked
  loop
    perform roomkit_private.ai_job_retry_or_fail(expired.id, 'lease_expired: the worker stopped before finishing', true, null);
  end loop;

  for candidate in
    select r.room_id from (
      select distinct on (j.room_id) j.room_id, j.id from roomkit_private.ai_jobs j
      where j.status = 'queued' and j.run_after <= now()
      order by j.room_id, j.id) r
    order by r.id
  loop
    -- Another worker is claiming in this room right now: leave the room to it.
    continue when not pg_try_advisory_xact_lock(roomkit_private.ai_lock_key('claim', candidate.room_id));
    <<room_jobs>>
    loop
      -- Fresh snapshot per statement: sees a running job another worker committed a moment ago.
      exit room_jobs when exists (
        select 1 from roomkit_private.ai_jobs r where r.room_id = candidate.room_id and r.status = 'running');
      -- Strict order per room: the oldest unfinished job goes first, even when it waits for a retry.
      select * into job from roomkit_private.ai_jobs j
      where j.room_id = candidate.room_id and j.status = 'queued'
      order by j.id limit 1
      for update skip locked;
      exit room_jobs when not found or job.run_after > now();

      select * into room from roomkit.rooms r where r.id = job.room_id;
      select * into trigger_message from roomkit.room_messages m where m.id = job.message_id;
      reason := case
        when room.status <> 'active' then 'room_inactive'
        when room.ai_mode = 'off' then 'ai_off'
        when trigger_message.deleted_at is not null then 'message_deleted'
        when roomkit_private.ai_tokens_today(job.room_id) >= settings.daily_token_budget then 'budget_exhausted'
      end;
      if reason is not null then
        update roomkit_private.ai_jobs j set status = 'skipped', last_error = reason, updated_at = now(), finished_at = now()
        where j.id = job.id;
        if reason = 'budget_exhausted' then
          perform roomkit_private.post_ai_notice(job.room_id, 'ai_budget_exhausted',
            'Roomkit AI has used up this room''s daily budget and will be back tomorrow (UTC).',
            (now() at time zone 'utc')::date::timestamp at time zone 'utc');
        end if;
        continue room_jobs;
      end if;

      update roomkit_private.ai_jobs j
      set status = 'running', attempts = j.attempts + 1, lease_id = gen_random_uuid(),
          lease_expires_at = now() + make_interval(secs => settings.lease_seconds), updated_at = now()
      where j.id = job.id
      returning * into job;

      return jsonb_build_object(
        'job_id', job.id,
        'reply_id', job.lease_id,
        'attempt', job.attempts,
        'max_attempts', settings.max_attempts,
        'lease_expires_at', job.lease_expires_at,
        'room', jsonb_build_object('id', room.id, 'name', room.name, 'description', room.description),
        'trigger_message_id', job.message_id,
        'participants', coalesce((
          select jsonb_agg(jsonb_build_object('id', p.id, 'display_name', p.display_name, 'is_ai', p.is_ai)
                           order by m.joined_at)
          from roomkit.room_members m join roomkit.profiles p on p.id = m.user_id
          where m.room_id = room.id and m.left_at is null), '[]'::jsonb),
        'messages', coalesce((
          select jsonb_agg(jsonb_build_object('id', c.id, 'sender_id', c.sender_id, 'sender_name', c.sender_name,
                                              'kind', c.kind, 'body', c.body, 'created_at', c.created_at)
                           order by c.created_at, c.id)
          from (
            select msg.id, msg.sender_id, p.display_name as sender_name, msg.kind, msg.body, msg.created_at
            from roomkit.room_messages msg left join roomkit.profiles p on p.id = msg.sender_id
            where msg.room_id = room.id and msg.deleted_at is null
              and (msg.created_at, msg.id) <= (trigger_message.created_at, trigger_message.id)
            order by msg.created_at desc, msg.id desc
            limit settings.context_messages) c), '[]'::jsonb));
    end loop;
  end loop;
  return null;
end;
$$;

/**
 * Keeps a running job's lease alive while a long reply streams. False when the lease was lost
 * (expired and taken over): the worker must stop and not write.
 * Who: service_role.
 */
create function roomkit_private.extend_ai_lease(job_id bigint, reply_id uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  settings roomkit_private.ai_settings;
begin
  select * into settings from roomkit_private.ai_settings limit 1;
  update roomkit_private.ai_jobs j
  set lease_expires_at = now() + make_interval(secs => settings.lease_seconds), updated_at = now()
  where j.id = extend_ai_lease.job_id and j.status = 'running' and j.lease_id = extend_ai_lease.reply_id;
  return found;
end;
$$;

/**
 * Finishes a running job: writes the ONE `ai` message (sender = the AI participant; its insert
 * trigger broadcasts message.insert) and records token usage. Returns the message id, or null when
 * this attempt no longer holds the lease (nothing is written then).
 * Errors: 22023 invalid_input for an empty body.
 * Who: service_role.
 */
create function roomkit_private.complete_ai_job(job_id bigint, reply_id uuid, body text,
                                        prompt_tokens bigint default 0, completion_tokens bigint default 0,
                                        metadata jsonb default '{}'::jsonb)
returns uuid language plpgsql security definer set search_path = '' as $$
declare
  job roomkit_private.ai_jobs;
  new_message_id uuid;
begin
  if complete_ai_job.body is null or btrim(complete_ai_job.body) = '' then
    perform roomkit_private.invalid_input('An AI reply cannot be empty');
  end if;
  select * into job from roomkit_private.ai_jobs j
  where j.id = complete_ai_job.job_id and j.status = 'running' and j.lease_id = complete_ai_job.reply_id
  for update;
  if not found then
    return null;
  end if;
  insert into roomkit.room_messages (room_id, sender_id, kind, body, metadata, created_at)
  values (job.room_id, roomkit_private.ai_user_id(), 'ai', left(complete_ai_job.body, 16000),
          coalesce(complete_ai_job.metadata, '{}'::jsonb)
            || jsonb_build_object('reply_to', job.message_id, 'reply_id', complete_ai_job.reply_id),
          clock_timestamp())
  returning id into new_message_id;
  update roomkit_private.ai_jobs j
  set status = 'done', reply_message_id = new_message_id, lease_id = null, lease_expires_at = null,
      last_error = null, updated_at = now(), finished_at = now()
  where j.id = job.id;
  insert into roomkit_private.ai_usage as u (room_id, day, prompt_tokens, completion_tokens, replies)
  values (job.room_id, (now() at time zone 'utc')::date, least(greatest(complete_ai_job.prompt_tokens, 0), 1000000000),
          least(greatest(complete_ai_job.completion_tokens, 0), 1000000000), 1)
  on conflict (room_id, day) do update
  set prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
      completion_tokens = u.completion_tokens + excluded.completion_tokens,
      replies = u.replies + 1;
  if job.requested_by is not null then
    insert into roomkit_private.ai_user_usage as u (user_id, day, tokens, replies)
    values (job.requested_by, (now() at time zone 'utc')::date,
            least(greatest(complete_ai_job.prompt_tokens, 0), 1000000000)
              + least(greatest(complete_ai_job.completion_tokens, 0), 1000000000), 1)
    on conflict (user_id, day) do update set tokens = u.tokens + excluded.tokens, replies = u.replies + 1;
  end if;
  return new_message_id;
end;
$$;

/**
 * Reports a failed attempt. Retryable errors go back to the queue with backoff until max_attempts;
 * then (or at once when not retryable) the job fails with ONE system message (`notice`, or a
 * generic one). Returns `queued`, `failed`, or `lost` when this attempt no longer holds the lease.
 * Who: service_role.
 */
create function roomkit_private.fail_ai_job(job_id bigint, reply_id uuid, error text, retryable boolean default true,
                                    notice text default null)
returns text language plpgsql security definer set search_path = '' as $$
begin
  perform 1 from roomkit_private.ai_jobs j
  where j.id = fail_ai_job.job_id and j.status = 'running' and j.lease_id = fail_ai_job.reply_id
  for update;
  if not found then
    return 'lost';
  end if;
  return roomkit_private.ai_job_retry_or_fail(fail_ai_job.job_id, coalesce(fail_ai_job.error, 'unknown error'),
                                      fail_ai_job.retryable, fail_ai_job.notice);
end;
$$;

/**
 * Ends a running job without a reply and without retrying, saying why ONCE per room and period:
 * a system message with `event` unless one was posted since `quiet_since` (e.g. "no AI provider
 * is configured"). Returns false when the lease was lost.
 * Who: service_role.
 */
create function roomkit_private.skip_ai_job(job_id bigint, reply_id uuid, reason text, event text, notice text,
                                    quiet_since timestamptz default '-infinity')
returns boolean language plpgsql security definer set search_path = '' as $$
declare
  job roomkit_private.ai_jobs;
begin
  update roomkit_private.ai_jobs j
  set status = 'skipped', lease_id = null, lease_expires_at = null, last_error = left(skip_ai_job.reason, 1000),
      updated_at = now(), finished_at = now()
  where j.id = skip_ai_job.job_id and j.status = 'running' and j.lease_id = skip_ai_job.reply_id
  returning * into job;
  if not found then
    return false;
  end if;
  perform roomkit_private.post_ai_notice(job.room_id, skip_ai_job.event, skip_ai_job.notice, skip_ai_job.quiet_since);
  return true;
end;
$$;

/**
 * When the next job becomes claimable without a new message: the earliest retry (run_after) or
 * lease expiry still in the future, or null. Workers and the local dispatcher sleep until then.
 * Who: service_role.
 */
create function roomkit_private.next_ai_job_at() returns timestamptz
language sql stable security definer set search_path = '' as $$
  select min(t) from (
    select min(j.run_after) as t from roomkit_private.ai_jobs j where j.status = 'queued' and j.run_after > now()
    union all
    select min(j.lease_expires_at) from roomkit_private.ai_jobs j where j.status = 'running'
  ) s
$$;

-- triggers
-- Named after room_messages_broadcast so it fires second: the human message is announced first.
create trigger room_messages_queue_ai after insert on roomkit.room_messages
  for each row execute function roomkit_private.queue_ai_reply();

-- grants
revoke all on roomkit_private.ai_settings, roomkit_private.ai_jobs, roomkit_private.ai_usage, roomkit_private.ai_user_usage
  from public, anon, authenticated;
grant select on roomkit_private.ai_settings, roomkit_private.ai_jobs, roomkit_private.ai_usage, roomkit_private.ai_user_usage
  to service_role;
revoke execute on function roomkit_private.mentions_ai(text), roomkit_private.ai_lock_key(text, uuid), roomkit_private.ai_tokens_today(uuid),
  roomkit_private.ai_user_tokens_today(uuid),
  roomkit_private.post_ai_notice(uuid, text, text, timestamptz), roomkit_private.queue_ai_reply(),
  roomkit_private.ai_job_retry_or_fail(bigint, text, boolean, text), roomkit_private.claim_ai_job(),
  roomkit_private.extend_ai_lease(bigint, uuid), roomkit_private.complete_ai_job(bigint, uuid, text, bigint, bigint, jsonb),
  roomkit_private.fail_ai_job(bigint, uuid, text, boolean, text),
  roomkit_private.skip_ai_job(bigint, uuid, text, text, text, timestamptz), roomkit_private.next_ai_job_at()
  from public, anon, authenticated;
grant execute on function roomkit_private.claim_ai_job(), roomkit_private.extend_ai_lease(bigint, uuid),
  roomkit_private.complete_ai_job(bigint, uuid, text, bigint, bigint, jsonb),
  roomkit_private.fail_ai_job(bigint, uuid, text, boolean, text),
  roomkit_private.skip_ai_job(bigint, uuid, text, text, text, timestamptz), roomkit_private.next_ai_job_at()
  to service_role;
