-- Log lines kept in PostgreSQL when LOKI_URL is not set (the embedded mode), served by GET /logs.
--
-- One row per event: the log worker inserts with ON CONFLICT (event_id) DO NOTHING, so a
-- redelivered record (after a crash, before its offset was committed) is stored once.
-- event_id is text, not uuid: app-logs may carry records from producers other than the API, and a
-- record the sink cannot store would have to be dead-lettered for its id alone.
-- No retention here: rows stay until deleted (e.g. DELETE ... WHERE ts < now() - interval '30 days').

CREATE TABLE kitsune.logs (
  event_id text PRIMARY KEY,
  -- The event's metadata.timestamp (when the API accepted the command), not the time of insert.
  ts timestamptz NOT NULL,
  level text NOT NULL,
  command text NOT NULL,
  version text NOT NULL,
  source text NOT NULL,
  message text NOT NULL,
  idempotency_key text NOT NULL,
  trace_id text,
  stored_at timestamptz NOT NULL DEFAULT now()
);

-- GET /logs reads newest first and pages by (ts, event_id); the filtered forms narrow by one
-- column, then walk the same order.
CREATE INDEX logs_ts_event_id ON kitsune.logs (ts DESC, event_id DESC);
CREATE INDEX logs_command_ts ON kitsune.logs (command, ts DESC);
CREATE INDEX logs_source_ts ON kitsune.logs (source, ts DESC);
CREATE INDEX logs_level_ts ON kitsune.logs (level, ts DESC);
