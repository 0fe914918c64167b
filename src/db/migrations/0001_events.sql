-- Kitsune's own state for command execution (schema `kitsune`).
--
-- idempotency_log is the seed's table: one row per (source, idempotency key), written in the same
-- transaction as the command's effect, so a crash can never leave one without the other.

CREATE TABLE kitsune.idempotency_log (
  source text NOT NULL,
  idempotency_key text NOT NULL,
  event_id uuid NOT NULL,
  command text NOT NULL,
  version text NOT NULL,
  -- SHA-256 of the canonical payload: same key + same hash is a duplicate, a different hash a conflict.
  payload_hash bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, idempotency_key)
);

-- The outcome of each event, served by GET /events/:id. A dead-lettered event has a result but no
-- idempotency row, so replaying it after a fix can still succeed (once).
CREATE TABLE kitsune.event_results (
  event_id uuid PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('succeeded', 'dead_lettered')),
  command text NOT NULL,
  version text NOT NULL,
  source text NOT NULL,
  idempotency_key text NOT NULL,
  result_rows jsonb,
  rows_affected integer,
  error jsonb,
  attempts integer NOT NULL,
  source_topic text,
  source_partition integer,
  source_offset bigint,
  completed_at timestamptz NOT NULL DEFAULT now()
);

-- A redelivered event with the same key but a different payload: recorded, never applied.
CREATE TABLE kitsune.event_conflicts (
  id bigserial PRIMARY KEY,
  event_id uuid NOT NULL,
  payload_hash bytea NOT NULL,
  payload jsonb NOT NULL,
  source_topic text,
  source_partition integer,
  source_offset bigint,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_conflicts_event_id ON kitsune.event_conflicts (event_id);

-- Delivery attempts that failed transiently, kept outside the rolled-back batch transaction so a
-- restart does not reset an event's count.
CREATE TABLE kitsune.event_attempts (
  event_id uuid PRIMARY KEY,
  attempts integer NOT NULL,
  last_error jsonb,
  updated_at timestamptz NOT NULL DEFAULT now()
);
