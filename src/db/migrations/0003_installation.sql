-- One row per installation: its secrets, created once, the first time Kitsune's schema is
-- migrated, and read by every API replica, so they all derive the same event ids.
--
-- event_id_secret keys the HMAC of event ids (src/events/event-ids.ts): 32 bytes from
-- gen_random_uuid() (PostgreSQL's strong random source, built in since 13; 244 random bits).
-- KITSUNE_EVENT_ID_SECRET overrides it where an API replica cannot read this table.
-- Changing it changes the ids of retried commands (their effect still happens once: that is
-- keyed by source and idempotency key) and makes earlier ids unreadable with API keys.

CREATE TABLE kitsune.installation (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  event_id_secret bytea NOT NULL CHECK (octet_length(event_id_secret) >= 32),
  created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO kitsune.installation (event_id_secret)
VALUES (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
