-- Statements of the batch executor (store.ts). All run inside the batch transaction except AttemptsRecord,
-- which must survive the rollback of a failed batch.

-- name: IdempotencyInsert
INSERT INTO kitsune.idempotency_log (source, idempotency_key, event_id, command, version, payload_hash)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (source, idempotency_key) DO NOTHING

-- name: IdempotencyGet
SELECT event_id, payload_hash FROM kitsune.idempotency_log WHERE source = $1 AND idempotency_key = $2

-- name: ResultUpsert
INSERT INTO kitsune.event_results
  (event_id, status, command, version, source, idempotency_key, result_rows, rows_affected, error, attempts,
   source_topic, source_partition, source_offset)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (event_id) DO UPDATE SET
  status = EXCLUDED.status, result_rows = EXCLUDED.result_rows, rows_affected = EXCLUDED.rows_affected,
  error = EXCLUDED.error, attempts = EXCLUDED.attempts, source_topic = EXCLUDED.source_topic,
  source_partition = EXCLUDED.source_partition, source_offset = EXCLUDED.source_offset, completed_at = now()
-- A success is final: a later dead letter of a redelivered copy never overwrites it.
WHERE kitsune.event_results.status <> 'succeeded'

-- name: ConflictInsert
-- Once per (event, payload): a conflicting record that arrives again is the same conflict.
INSERT INTO kitsune.event_conflicts (event_id, payload_hash, payload, source_topic, source_partition, source_offset)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (event_id, payload_hash) DO NOTHING

-- name: AttemptsGet
SELECT event_id, attempts FROM kitsune.event_attempts WHERE event_id = ANY($1::uuid[])

-- name: AttemptsRecord
INSERT INTO kitsune.event_attempts (event_id, attempts, last_error) VALUES ($1, 1, $2)
ON CONFLICT (event_id) DO UPDATE SET attempts = kitsune.event_attempts.attempts + 1, last_error = EXCLUDED.last_error, updated_at = now()
RETURNING attempts

-- name: AttemptsClear
DELETE FROM kitsune.event_attempts WHERE event_id = ANY($1::uuid[])

-- name: IdempotencyClaimMany
INSERT INTO kitsune.idempotency_log (source, idempotency_key, event_id, command, version, payload_hash)
SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::bytea[])
ON CONFLICT (source, idempotency_key) DO NOTHING
RETURNING source, idempotency_key

-- name: IdempotencyGetMany
SELECT l.source, l.idempotency_key, l.event_id, l.payload_hash
FROM kitsune.idempotency_log l
JOIN unnest($1::text[], $2::text[]) AS k(source, idempotency_key) USING (source, idempotency_key)

-- name: ResultInsertMany
INSERT INTO kitsune.event_results
  (event_id, status, command, version, source, idempotency_key, result_rows, rows_affected, error, attempts,
   source_topic, source_partition, source_offset)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::int[],
                     $9::jsonb[], $10::int[], $11::text[], $12::int[], $13::bigint[])
ON CONFLICT (event_id) DO UPDATE SET
  status = EXCLUDED.status, result_rows = EXCLUDED.result_rows, rows_affected = EXCLUDED.rows_affected,
  error = EXCLUDED.error, attempts = EXCLUDED.attempts, source_topic = EXCLUDED.source_topic,
  source_partition = EXCLUDED.source_partition, source_offset = EXCLUDED.source_offset, completed_at = now()
WHERE kitsune.event_results.status <> 'succeeded'

-- name: ResultsNotify
-- Delivered at commit, once per transaction: the API's result waiters look at once (api/sql/results.sql).
NOTIFY kitsune_results
