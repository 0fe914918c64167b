/** Consumer lag of the Postgres log: one statement (ConsumerLag) over every queried group. */
import type { LagQuery, PartitionLag } from '../types.ts';
import type { LogContext } from './context.ts';

interface LagRow {
  group_name: string;
  topic: string;
  partition: number;
  records: string;
  seconds: number;
}

export async function readConsumerLag(context: LogContext, queries: readonly LagQuery[]): Promise<PartitionLag[]> {
  if (queries.length === 0) return [];
  const { rows } = await context.pool.query<LagRow>(context.sql.ConsumerLag, [queries.map((q) => q.group), queries.map((q) => q.topic)]);
  return rows.map((row) => ({ group: row.group_name, topic: row.topic, partition: row.partition, records: Number(row.records), seconds: row.seconds }));
}
