-- Topics and their partitions. `kitsune_log` is replaced by the configured schema when loaded.

-- name: TopicCreate
-- Creates the topic and its partition counter rows, or nothing if it exists (its partition
-- count is never changed). ON CONFLICT waits for a concurrent creator to commit.
WITH created AS (
  INSERT INTO kitsune_log.topics (name, partitions)
  VALUES ($1, $2)
  ON CONFLICT (name) DO NOTHING
  RETURNING name, partitions
)
INSERT INTO kitsune_log.partitions (topic, partition)
SELECT created.name, generate_series(0, created.partitions - 1)
FROM created;

-- name: TopicGet
SELECT partitions FROM kitsune_log.topics WHERE name = $1;

-- name: PartitionList
SELECT topic, partition FROM kitsune_log.partitions ORDER BY topic, partition;

-- name: ChannelNotify
-- One notification per payload, delivered at commit. $1 is the channel (the schema name).
SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload;

-- name: ChannelListen
LISTEN kitsune_log;
