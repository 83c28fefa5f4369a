-- LiveKit voice state kept from LiveKit's webhooks (functions/livekit-webhook).
-- LiveKit delivers webhooks at least once and may retry, so each event id is recorded once;
-- a participant's current LiveKit connection (sid) is kept so that the late `participant_left`
-- of a connection that was replaced (DUPLICATE_IDENTITY, a reconnect) does not mark them gone.
-- Both tables are in `private`: never exposed over the Data API; only the service role writes them.

/** Webhook event ids already applied (idempotency). Rows older than a week are pruned by the webhook. */
create table private.livekit_events (
  id text primary key,
  event text not null,
  room_name text,
  received_at timestamptz not null default now()
);
comment on table private.livekit_events is 'LiveKit webhook event ids already applied; written by the livekit-webhook function (service role).';
create index livekit_events_received_at_idx on private.livekit_events (received_at);

/** The LiveKit connection a participant currently has in a room (one per identity, as in LiveKit). */
create table private.voice_sessions (
  room_id uuid not null references public.rooms (id) on delete cascade,
  user_id uuid not null references public.profiles (id) on delete cascade,
  participant_sid text not null,
  joined_at timestamptz not null default now(),
  primary key (room_id, user_id)
);
comment on table private.voice_sessions is 'Current LiveKit connection (participant sid) per room member; written by the livekit-webhook function.';
create index voice_sessions_user_idx on private.voice_sessions (user_id);

alter table private.livekit_events enable row level security;
alter table private.voice_sessions enable row level security;
revoke all on private.livekit_events, private.voice_sessions from public, anon, authenticated;
grant select, insert, update, delete on private.livekit_events, private.voice_sessions to service_role;
-- No policies: only the service role (BYPASSRLS) reads or writes these tables.
