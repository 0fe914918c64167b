-- `kitsune dlq` on the Postgres log: read a dead-letter topic and move the replay group's
-- bookmark. The log's tables are the transport's (src/transport/postgres/sql/schema.sql), in its
-- default schema `kitsune_log`, which is the one Kitsune's processes use.

-- name: DlqLogExists
SELECT to_regclass('kitsune_log.partitions') IS NOT NULL AS exists;

-- name: DlqPartitionsGet
-- Each partition's retained range and the group's committed offset (NULL: never committed).
SELECT p.partition,
       coalesce((SELECT min(m."offset") FROM kitsune_log.messages AS m
                 WHERE m.topic = p.topic AND m.partition = p.partition), p.next_offset)::text AS start_offset,
       p.next_offset::text AS end_offset,
       o.next_offset::text AS committed_offset
FROM kitsune_log.partitions AS p
LEFT JOIN kitsune_log.offsets AS o ON o.group_name = $2 AND o.topic = p.topic AND o.partition = p.partition
WHERE p.topic = $1
ORDER BY p.partition;

-- name: DlqMessagesRead
-- One page of a partition's records, $3 <= offset < $4, at most $5.
SELECT "offset"::text AS "offset", id, key, value, headers, created_at
FROM kitsune_log.messages
WHERE topic = $1 AND partition = $2 AND "offset" >= $3::bigint AND "offset" < $4::bigint
ORDER BY "offset"
LIMIT $5;

-- name: DlqOffsetsAdvance
-- Sets the group's committed offsets ($3 partitions, $4 offsets), never backwards. No lease:
-- no member consumes the replay group; `kitsune dlq` serialises itself with an advisory lock.
INSERT INTO kitsune_log.offsets AS current (group_name, topic, partition, next_offset, committed_at)
SELECT $1, $2, o.partition, o.next_offset, now()
FROM unnest($3::int[], $4::bigint[]) AS o(partition, next_offset)
ON CONFLICT (group_name, topic, partition) DO UPDATE
SET next_offset = excluded.next_offset, committed_at = excluded.committed_at
WHERE current.next_offset < excluded.next_offset;
