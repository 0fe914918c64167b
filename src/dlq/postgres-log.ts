/**
 * The DLQ of the Postgres log: plain queries on the transport's tables. The bookmark is a row of
 * `kitsune_log.offsets`, like any group's, so the retention sweeper (onlyConsumed) keeps dead
 * letters the replay group has not passed yet.
 *
 * Limit: assumes the transport's default schema, `kitsune_log`, which is what Kitsune's
 * processes use (they do not configure another).
 */
import type pg from 'pg';
import { loadQueries } from '../db/queries.ts';
import { reservedHeaders, type ReceivedMessage } from '../transport/types.ts';
import type { DeadLetterLog, DlqSnapshot } from './log.ts';

const queries = loadQueries(new URL('./sql/postgres-log.sql', import.meta.url), [
  'DlqLogExists',
  'DlqPartitionsGet',
  'DlqMessagesRead',
  'DlqOffsetsAdvance',
]);

/** Rows per read query: bounds one result set, not the total read. */
const pageSize = 1_000;

interface PartitionRow {
  partition: number;
  start_offset: string;
  end_offset: string;
  committed_offset: string | null;
}

interface MessageRow {
  offset: string;
  id: string;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
  created_at: Date;
}

export function createPostgresDeadLetterLog(pool: pg.Pool): DeadLetterLog {
  return {
    async describe(topic, group): Promise<DlqSnapshot> {
      const { rows: present } = await pool.query<{ exists: boolean }>(queries.DlqLogExists);
      if (!present[0]?.exists) return { topic, group, exists: false, partitions: [] };
      const { rows } = await pool.query<PartitionRow>(queries.DlqPartitionsGet, [topic, group]);
      return {
        topic,
        group,
        exists: rows.length > 0,
        partitions: rows.map((row) => ({
          partition: row.partition,
          start: BigInt(row.start_offset),
          end: BigInt(row.end_offset),
          committed: row.committed_offset === null ? undefined : BigInt(row.committed_offset),
        })),
      };
    },

    async read(topic, partition, from, to) {
      const messages: ReceivedMessage[] = [];
      for (let next = from; next < to; ) {
        const { rows } = await pool.query<MessageRow>(queries.DlqMessagesRead, [topic, partition, String(next), String(to), pageSize]);
        for (const row of rows) {
          const headers = Object.assign(Object.create(null) as Record<string, string>, row.headers, { [reservedHeaders.id]: row.id });
          messages.push({
            id: row.id,
            key: row.key ?? undefined,
            value: row.value,
            headers,
            topic,
            partition,
            offset: BigInt(row.offset),
            timestamp: row.created_at.getTime(),
            attempt: 1,
          });
        }
        if (rows.length < pageSize) break;
        next = BigInt(rows[rows.length - 1]!.offset) + 1n;
      }
      return messages;
    },

    async commit(topic, group, offsets) {
      if (offsets.size === 0) return;
      const entries = [...offsets];
      await pool.query(queries.DlqOffsetsAdvance, [group, topic, entries.map(([p]) => p), entries.map(([, offset]) => String(offset))]);
    },

    close: () => Promise.resolve(),
  };
}
