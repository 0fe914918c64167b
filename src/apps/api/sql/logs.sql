-- GET /logs (table: src/db/migrations/0002_logs.sql).

-- name: LogsList
-- Newest first, one page. Every filter is optional: NULL turns it off (the statement is planned
-- with the values bound, so an unused filter costs nothing and the used one can take its index).
-- $7/$8 are the cursor: the (ts, event_id) of the last row of the previous page, ts in
-- microseconds since the Unix epoch (ts_micros), which is exact where text or a float is not. $6 is an ILIKE
-- pattern whose user part was escaped by the caller; it scans the rows the other filters leave.
-- $10 is one event's id (the primary key: at most one row).
SELECT event_id,
       ts,
       (extract(epoch FROM ts) * 1000000)::bigint AS ts_micros,
       level, command, version, source, message, idempotency_key, trace_id
FROM kitsune.logs
WHERE ($1::text[] IS NULL OR level = ANY($1::text[]))
  AND ($2::text IS NULL OR command = $2::text)
  AND ($3::text IS NULL OR source = $3::text)
  AND ($4::timestamptz IS NULL OR ts >= $4::timestamptz)
  AND ($5::timestamptz IS NULL OR ts < $5::timestamptz)
  AND ($6::text IS NULL OR message ILIKE $6::text)
  AND ($10::text IS NULL OR event_id = $10::text)
  AND ($7::bigint IS NULL OR (ts, event_id) < (timestamptz 'epoch' + $7::bigint * interval '1 microsecond', $8::text))
ORDER BY ts DESC, event_id DESC
LIMIT $9
