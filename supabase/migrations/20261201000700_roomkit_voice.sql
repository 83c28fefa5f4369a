-- LiveKit voice state kept from LiveKit's webhooks (functions/livekit-webhook).
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

-- indexes
create index livekit_events_received_at_idx on roomkit_private.livekit_events (received_at);
create index voice_sessions_user_idx on roomkit_private.voice_sessions (user_id);

-- grants
alter table roomkit_private.livekit_events enable row level security;
alter table roomkit_private.voice_sessions enable row level security;
revoke all on roomkit_private.livekit_events, roomkit_private.voice_sessions from public, anon, authenticated;
grant select, insert, update, delete on roomkit_private.livekit_events, roomkit_private.voice_sessions to service_role;
-- No policies: only the service role (BYPASSRLS) reads or writes these tables.
