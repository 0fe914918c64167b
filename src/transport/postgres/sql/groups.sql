-- Consumer groups: membership, partition leases and committed offsets. All expiry is judged by
-- the database clock (now()), so members' clocks never have to agree. `kitsune_log` is replaced
-- by the configured schema when loaded.

-- name: MemberHeartbeat
-- Registers or refreshes this member ($3) until now() + $5 ms, forgets expired members, and
-- returns every live member in a stable order (the basis of the assignment).
WITH swept AS (
  DELETE FROM kitsune_log.members
  WHERE group_name = $1 AND topic = $2 AND expires_at <= now() AND member_id <> $3
), me AS (
  INSERT INTO kitsune_log.members (group_name, topic, member_id, client, expires_at)
  VALUES ($1, $2, $3, $4, now() + $5::int * interval '1 millisecond')
  ON CONFLICT (group_name, topic, member_id) DO UPDATE SET expires_at = excluded.expires_at
  RETURNING member_id
)
SELECT member_id FROM kitsune_log.members
WHERE group_name = $1 AND topic = $2 AND expires_at > now() AND member_id <> $3
UNION
SELECT member_id FROM me
ORDER BY member_id;

-- name: MemberLeave
DELETE FROM kitsune_log.members WHERE group_name = $1 AND topic = $2 AND member_id = $3;

-- name: LeaseClaim
-- Takes each listed partition ($5, with a fresh token from $6) that is free, expired, or already
-- this member's, for $4 ms. Returns what was taken. Input in partition order, so concurrent
-- claimers lock rows in the same order.
INSERT INTO kitsune_log.leases AS l (group_name, topic, partition, member_id, token, expires_at)
SELECT $1, $2, c.partition, $3, c.token, now() + $4::int * interval '1 millisecond'
FROM unnest($5::int[], $6::text[]) AS c(partition, token)
ON CONFLICT (group_name, topic, partition) DO UPDATE
SET member_id = excluded.member_id, token = excluded.token,
    acquired_at = now(), expires_at = excluded.expires_at
WHERE l.expires_at <= now() OR l.member_id = excluded.member_id
RETURNING partition, token;

-- name: LeaseRenew
-- Extends the listed leases that this member still holds and that have not expired; what is
-- missing from the result was lost. Rows are locked in partition order, as LeaseClaim does.
UPDATE kitsune_log.leases AS l
SET expires_at = now() + $4::int * interval '1 millisecond'
FROM (
  SELECT partition FROM kitsune_log.leases
  WHERE group_name = $1 AND topic = $2 AND member_id = $3 AND expires_at > now()
    AND (partition, token) IN (SELECT * FROM unnest($5::int[], $6::text[]))
  ORDER BY partition
  FOR UPDATE
) AS mine
WHERE l.group_name = $1 AND l.topic = $2 AND l.partition = mine.partition
RETURNING l.partition;

-- name: LeaseRelease
DELETE FROM kitsune_log.leases
WHERE group_name = $1 AND topic = $2 AND partition = $3 AND token = $4;

-- name: OffsetCommit
-- Fenced: writes only while token $6 of member $5 holds an unexpired lease. FOR SHARE makes a
-- concurrent takeover wait for this commit, or makes this commit see the takeover (READ COMMITTED
-- re-checks the row) and write nothing. Zero rows affected means fenced.
WITH lease AS (
  SELECT 1 FROM kitsune_log.leases
  WHERE group_name = $1 AND topic = $2 AND partition = $3
    AND member_id = $5 AND token = $6 AND expires_at > now()
  FOR SHARE
)
INSERT INTO kitsune_log.offsets (group_name, topic, partition, next_offset, committed_at)
SELECT $1, $2, $3, $4, now() FROM lease
ON CONFLICT (group_name, topic, partition) DO UPDATE
SET next_offset = excluded.next_offset, committed_at = excluded.committed_at;

-- name: OffsetFetch
SELECT partition, next_offset FROM kitsune_log.offsets
WHERE group_name = $1 AND topic = $2 AND partition = ANY ($3::int[]);

-- name: ConsumerLag
-- For each (group $1[i], topic $2[i]), every partition: its end offset, where the group stands
-- (its committed offset, never below the oldest retained message; with no commit, the oldest
-- retained message, where a new group starts), and the age of the oldest message not yet
-- committed by the database clock, 0 when caught up. One index probe per partition.
SELECT g.group_name, p.topic, p.partition,
  p.next_offset - c.from_offset AS records,
  coalesce(greatest(0, extract(epoch FROM now() - m.created_at)), 0)::float8 AS seconds
FROM unnest($1::text[], $2::text[]) AS g(group_name, topic)
JOIN kitsune_log.partitions AS p ON p.topic = g.topic
LEFT JOIN kitsune_log.offsets AS o
  ON o.group_name = g.group_name AND o.topic = p.topic AND o.partition = p.partition
CROSS JOIN LATERAL (
  SELECT coalesce(greatest(o.next_offset,
    (SELECT min("offset") FROM kitsune_log.messages WHERE topic = p.topic AND partition = p.partition)),
    p.next_offset) AS from_offset
) AS c
LEFT JOIN LATERAL (
  SELECT created_at FROM kitsune_log.messages
  WHERE topic = p.topic AND partition = p.partition AND "offset" >= c.from_offset
  ORDER BY "offset" LIMIT 1
) AS m ON true
ORDER BY g.group_name, p.topic, p.partition;
