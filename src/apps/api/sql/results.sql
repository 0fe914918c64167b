-- name: ResultsGet
SELECT r.event_id, r.status, r.command, r.version, r.source, r.idempotency_key, r.result_rows, r.rows_affected,
       r.error, r.attempts, r.completed_at,
       (SELECT count(*) FROM kitsune.event_conflicts c WHERE c.event_id = r.event_id)::int AS conflicts
FROM kitsune.event_results r
WHERE r.event_id = ANY($1::uuid[])

-- name: ResultsListen
-- The DB worker sends NOTIFY kitsune_results with each batch's commit (see db-worker/sql/events.sql).
LISTEN kitsune_results
