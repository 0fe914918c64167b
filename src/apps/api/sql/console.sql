-- Reads behind the console's event timeline (schema kitsune, src/db/migrations/).

-- name: TimelineResult
SELECT event_id::text AS event_id, status, command, version, source, idempotency_key, result_rows, rows_affected,
       error, attempts, source_topic, source_partition, source_offset::text AS source_offset, completed_at,
       (SELECT count(*) FROM kitsune.event_conflicts c WHERE c.event_id = r.event_id)::int AS conflicts
FROM kitsune.event_results r
WHERE event_id = $1

-- name: TimelineAttempts
-- Transient failures counted while the event is still being retried (cleared once it is done).
SELECT attempts, last_error, updated_at FROM kitsune.event_attempts WHERE event_id = $1

-- name: TimelineLogs
-- The event's log line, when logs are kept in PostgreSQL (no LOKI_URL).
SELECT event_id, ts, level, command, version, source, message, idempotency_key, trace_id
FROM kitsune.logs
WHERE event_id = $1
