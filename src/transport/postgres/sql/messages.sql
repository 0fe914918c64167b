-- Appending and reading the log. `kitsune_log` is replaced by the configured schema when loaded.

-- name: PartitionLockForAppend
-- Locks the counter row of every partition a write touches, in (topic, partition) order so two
-- writers can never deadlock, and reads next_offset under the lock (FOR UPDATE returns the latest
-- committed version). The lock is held until the writer commits: that is what keeps offsets
-- gapless and visible in order, and it is also the cost: one writer per partition at a time.
SELECT topic, partition, next_offset
FROM kitsune_log.partitions
WHERE (topic, partition) IN (SELECT * FROM unnest($1::text[], $2::int[]))
ORDER BY topic, partition
FOR UPDATE;

-- name: MessageAppend
-- $1..$3: the new next_offset of each locked partition; $4..$10: one array element per message.
WITH bumped AS (
  UPDATE kitsune_log.partitions AS p
  SET next_offset = b.next_offset
  FROM unnest($1::text[], $2::int[], $3::bigint[]) AS b(topic, partition, next_offset)
  WHERE p.topic = b.topic AND p.partition = b.partition
)
INSERT INTO kitsune_log.messages (topic, partition, "offset", id, key, value, headers)
SELECT *
FROM unnest($4::text[], $5::int[], $6::bigint[], $7::text[], $8::text[], $9::bytea[], $10::jsonb[]);

-- name: MessageFetch
-- Up to $4 messages from each listed partition, starting at its offset. A committed offset below
-- the oldest retained message simply starts at the oldest one.
SELECT m.partition, m."offset", m.id, m.key, m.value, m.headers, m.created_at
FROM unnest($2::int[], $3::bigint[]) AS f(partition, from_offset)
CROSS JOIN LATERAL (
  SELECT *
  FROM kitsune_log.messages
  WHERE topic = $1 AND partition = f.partition AND "offset" >= f.from_offset
  ORDER BY "offset"
  LIMIT $4
) AS m
ORDER BY m.partition, m."offset";

-- name: MessageDeleteExpired
-- Deletes from one partition the oldest messages, at most $5 of them, that are older than $3 ms
-- and, when $4 is true, below the committed offset of every group that ever committed on it.
-- It walks the primary key from the oldest row and stops at the first young one, which is right
-- because created_at grows with the offset (see the messages table).
WITH bounds AS (
  SELECT least(
    (SELECT min("offset") FROM kitsune_log.messages WHERE topic = $1 AND partition = $2) + $5::int,
    coalesce(
      (SELECT "offset" FROM kitsune_log.messages
       WHERE topic = $1 AND partition = $2 AND created_at >= now() - $3::bigint * interval '1 millisecond'
       ORDER BY "offset" LIMIT 1),
      p.next_offset),
    CASE WHEN $4::boolean
      THEN coalesce((SELECT min(next_offset) FROM kitsune_log.offsets WHERE topic = $1 AND partition = $2), p.next_offset)
      ELSE p.next_offset
    END
  ) AS upto
  FROM kitsune_log.partitions AS p
  WHERE p.topic = $1 AND p.partition = $2
)
DELETE FROM kitsune_log.messages AS m
USING bounds
WHERE m.topic = $1 AND m.partition = $2 AND m."offset" < bounds.upto;
