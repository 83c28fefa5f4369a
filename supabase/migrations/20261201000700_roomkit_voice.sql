-- Voice through LiveKit: the state kept from LiveKit's webhooks (functions/livekit-webhook), and
-- the evictions owed to LiveKit when a coworking membership ends (leave, removal, expiry, the room
-- made inactive or deleted). A LiveKit token stays valid until its TTL, so ending voice takes a
-- call to LiveKit (RemoveParticipant, which also revokes earlier tokens): a trigger writes the
-- debt to an outbox in the same transaction, and the `sweep` function pays it (right away when the
-- coworking function ended the membership, otherwise within a sweep interval). The webhook also
-- turns away anyone who connects without an active membership.
-- LiveKit delivers webhooks at least once and may retry, so each event id is recorded once;
-- a participant's current LiveKit connection (sid) is kept so that the late `participant_left`
-- of a connection that was replaced (DUPLICATE_IDENTITY, a reconnect) does not mark them gone.
-- Both tables are in `roomkit_private`: never exposed over the Data API; only the service role writes them.

-- tables
/** Webhook event ids already applied (idempotency). Rows older than a week are pruned by the webhook. */
create table roomkit_private.livekit_events (
  id text primary key,
  event text not null,
  room_name text,
  received_at timestamptz not null default now()
);
comment on table roomkit_private.livekit_events is 'LiveKit webhook event ids already applied; written by the livekit-webhook function (service role).';

/** The LiveKit connection a participant currently has in a room (one per identity, as in LiveKit). */
create table roomkit_private.voice_sessions (
  room_id uuid not null references roomkit.rooms (id) on delete cascade,
  user_id uuid not null references roomkit.profiles (id) on delete cascade,
  participant_sid text not null,
  joined_at timestamptz not null default now(),
  primary key (room_id, user_id)
);
comment on table roomkit_private.voice_sessions is 'Current LiveKit connection (participant sid) per room member; written by the livekit-webhook function.';

/**
 * Voice disconnections owed to LiveKit: one per ended coworking membership (user_id set) or deleted
 * room (user_id null: the whole LiveKit room). Claimed and completed by the `sweep` function.
 */
create table roomkit_private.voice_evictions (
  id bigint generated always as identity primary key,
  room_id uuid not null,
  user_id uuid,
  reason text not null,
  created_at timestamptz not null default now(),
  attempts integer not null default 0,
  run_after timestamptz not null default now(),
  done_at timestamptz,
  last_error text
);
comment on table roomkit_private.voice_evictions is 'Outbox of LiveKit disconnections owed after coworking memberships end; drained by the sweep function.';

-- indexes
create index voice_evictions_pending_idx on roomkit_private.voice_evictions (run_after, id) where done_at is null;
create index livekit_events_received_at_idx on roomkit_private.livekit_events (received_at);
create index voice_sessions_user_idx on roomkit_private.voice_sessions (user_id);

-- functions
/**
 * Claims up to `max` evictions that are due (FOR UPDATE SKIP LOCKED: concurrent sweeps never take
 * the same one), optionally only one room's. Each claim counts as an attempt and is pushed back
 * (exponential backoff) until `complete_voice_eviction` marks it done. Who: the service role.
 */
create function roomkit_private.claim_voice_evictions(max integer default 100, only_room uuid default null)
returns setof roomkit_private.voice_evictions language sql security definer set search_path = '' as $$
  update roomkit_private.voice_evictions e
  set attempts = e.attempts + 1,
      run_after = now() + make_interval(secs => least(300, 5 * 2 ^ e.attempts))
  where e.id in (
    select c.id from roomkit_private.voice_evictions c
    where c.done_at is null and c.run_after <= now()
      and (claim_voice_evictions.only_room is null or c.room_id = claim_voice_evictions.only_room)
    order by c.id
    limit claim_voice_evictions.max
    for update skip locked)
  returning e.*
$$;

/** Marks an eviction done, or records why LiveKit refused it (it is retried later). Who: the service role. */
create function roomkit_private.complete_voice_eviction(id bigint, error text default null) returns void
language sql security definer set search_path = '' as $$
  update roomkit_private.voice_evictions e
  set done_at = case when complete_voice_eviction.error is null then now() end,
      last_error = left(complete_voice_eviction.error, 1000)
  where e.id = complete_voice_eviction.id
$$;

-- triggers
/** An ended coworking membership owes LiveKit a disconnection (NOTIFY wakes the local sweeper). */
create function roomkit_private.owe_voice_eviction() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_table_name = 'rooms' then
    if old.kind = 'coworking' then
      insert into roomkit_private.voice_evictions (room_id, user_id, reason) values (old.id, null, 'room_deleted');
      perform pg_notify('roomkit_sweep', old.id::text);
    end if;
  elsif exists (select 1 from roomkit.rooms r where r.id = new.room_id and r.kind = 'coworking') then
    insert into roomkit_private.voice_evictions (room_id, user_id, reason) values (new.room_id, new.user_id, 'membership_ended');
    perform pg_notify('roomkit_sweep', new.room_id::text);
  end if;
  return null;
end;
$$;
create trigger room_members_owe_voice_eviction after update of left_at on roomkit.room_members
  for each row when (old.left_at is null and new.left_at is not null)
  execute function roomkit_private.owe_voice_eviction();
create trigger rooms_owe_voice_eviction after delete on roomkit.rooms
  for each row execute function roomkit_private.owe_voice_eviction();

-- grants
alter table roomkit_private.livekit_events enable row level security;
alter table roomkit_private.voice_sessions enable row level security;
alter table roomkit_private.voice_evictions enable row level security;
revoke all on roomkit_private.livekit_events, roomkit_private.voice_sessions, roomkit_private.voice_evictions
  from public, anon, authenticated;
grant select, insert, update, delete on roomkit_private.livekit_events, roomkit_private.voice_sessions,
  roomkit_private.voice_evictions to service_role;
grant execute on function roomkit_private.claim_voice_evictions(integer, uuid),
  roomkit_private.complete_voice_eviction(bigint, text) to service_role;
-- No policies: only the service role (BYPASSRLS) reads or writes these tables.
