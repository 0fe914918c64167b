-- The durable log's tables. `kitsune_log` is replaced by the configured schema (quoted) when
-- these files are loaded, so they also run as they are in psql for the default schema.

-- name: SchemaLock
-- Serialises schema creation between processes (CREATE ... IF NOT EXISTS alone races on the
-- catalog's unique indexes). Released when the creating transaction ends.
SELECT pg_advisory_xact_lock(hashtext('kitsune.transport.postgres'), hashtext($1));

-- name: SchemaCreate
CREATE SCHEMA IF NOT EXISTS kitsune_log;

CREATE TABLE IF NOT EXISTS kitsune_log.topics (
  name text PRIMARY KEY,
  partitions integer NOT NULL CHECK (partitions > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per partition: the offset counter. Appending locks this row, which serialises writers
-- of one partition and makes their rows visible in offset order (no gaps a reader could skip).
CREATE TABLE IF NOT EXISTS kitsune_log.partitions (
  topic text NOT NULL REFERENCES kitsune_log.topics (name),
  partition integer NOT NULL CHECK (partition >= 0),
  next_offset bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (topic, partition)
);

-- Append-only; retention deletes from the low end. No foreign key to partitions: the append
-- path already locked that row, and the check would cost a lookup per message.
-- created_at is clock_timestamp() taken under the partition's lock, so it grows with the offset.
CREATE TABLE IF NOT EXISTS kitsune_log.messages (
  topic text NOT NULL,
  partition integer NOT NULL,
  "offset" bigint NOT NULL,
  id text NOT NULL,
  key text,
  value bytea NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (topic, partition, "offset")
);

-- next_offset: everything before it is done for the group.
CREATE TABLE IF NOT EXISTS kitsune_log.offsets (
  group_name text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  next_offset bigint NOT NULL,
  committed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_name, topic, partition)
);

-- Who may consume a partition for a group, until expires_at. token changes on every change of
-- hands, so a commit carrying an old token is refused even if the same member took it back.
CREATE TABLE IF NOT EXISTS kitsune_log.leases (
  group_name text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  member_id text NOT NULL,
  token text NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (group_name, topic, partition)
);

-- Live members of a group on a topic; each claims its share of partitions.
CREATE TABLE IF NOT EXISTS kitsune_log.members (
  group_name text NOT NULL,
  topic text NOT NULL,
  member_id text NOT NULL,
  client text NOT NULL,
  joined_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (group_name, topic, member_id)
);
