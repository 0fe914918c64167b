-- `kitsune dlq` on Kitsune's own tables (schema kitsune, src/db/migrations/0001_events.sql).

-- name: ReplayLockTry
-- One replay or purge per (group, DLQ topic) at a time, across machines: a session-level advisory
-- lock, released when the command ends or its connection drops.
SELECT pg_try_advisory_lock(hashtext('kitsune.dlq-replay'), hashtext($1)) AS locked;

-- name: ReplayUnlock
SELECT pg_advisory_unlock(hashtext('kitsune.dlq-replay'), hashtext($1));

-- name: IdempotencyFind
-- The idempotency rows of the given (source, key) pairs: an event with a row took effect (the
-- worker writes the row in the same transaction as the command's SQL, and never for a dead letter).
SELECT l.source, l.idempotency_key, l.event_id::text AS event_id, l.created_at
FROM kitsune.idempotency_log AS l
JOIN unnest($1::text[], $2::text[]) AS k(source, idempotency_key)
  ON l.source = k.source AND l.idempotency_key = k.idempotency_key;

-- name: ResultsGet
SELECT event_id::text AS event_id, status, error, attempts, completed_at
FROM kitsune.event_results
WHERE event_id = ANY ($1::uuid[]);

-- name: ResultsSince
-- Outcomes stored at or after $2 (the database's clock when the replay began).
SELECT event_id::text AS event_id, status, error
FROM kitsune.event_results
WHERE event_id = ANY ($1::uuid[]) AND completed_at >= $2;

-- name: ClockNow
SELECT now() AS now;

-- name: DryRunLimits
-- A dry run takes the same row locks as the real statements until it rolls back: keep it from
-- queueing behind (or holding up) the live worker for long.
SELECT set_config('lock_timeout', '2s', true), set_config('statement_timeout', '30s', true);
