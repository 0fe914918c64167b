-- The log worker's statements (table: src/db/migrations/0002_logs.sql).

-- name: LogsInsert
-- $1..$9 are parallel arrays, one element per line: one round trip per batch. A redelivered line
-- (same event id) is skipped, also when it appears twice in one batch.
INSERT INTO kitsune.logs (event_id, ts, level, command, version, source, message, idempotency_key, trace_id)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
ON CONFLICT (event_id) DO NOTHING
