/** Reads what the checker compares with the history: PostgreSQL, every topic from its start, Loki. */
import pg from 'pg';
import type { LokiTestServer } from '../support/loki/index.ts';
import { workerHeader } from '../../src/apps/db-worker/outcome-records.ts';
import type { Observed, ResultCopy } from './checker.ts';
import { readTopic, type TopicRecord } from './kafka-read.ts';

interface EventShape {
  id?: unknown;
  metadata?: { idempotency_key?: unknown; timestamp?: unknown };
}

function parse(record: TopicRecord): EventShape | undefined {
  try {
    return JSON.parse(record.value.toString('utf8')) as EventShape;
  } catch {
    return undefined;
  }
}

const keyOf = (event: EventShape | undefined): string | undefined =>
  typeof event?.metadata?.idempotency_key === 'string' ? event.metadata.idempotency_key : undefined;

/** What the log worker makes of a record: the event id and the accepted-at timestamp, in ns as Loki stores it. */
function lineOf(event: EventShape | undefined): string | undefined {
  if (typeof event?.id !== 'string' || typeof event.metadata?.timestamp !== 'string') return undefined;
  return `${event.id}@${BigInt(Date.parse(event.metadata.timestamp)) * 1_000_000n}`;
}

export interface GatherSources {
  postgresDsn: string;
  brokers: readonly string[];
  topics: { dbEvents: string; appLogs: string; dbResults: string };
  loki: LokiTestServer;
}

export async function gather(sources: GatherSources): Promise<Observed> {
  const client = new pg.Client({ connectionString: sources.postgresDsn });
  await client.connect();
  let effects: Observed['effects'];
  try {
    effects = (await client.query<{ entity: string; seq: number; op: string }>('SELECT entity, seq, op FROM fault_steps ORDER BY id')).rows;
  } finally {
    await client.end();
  }
  const { brokers, topics } = sources;
  const [dbEvents, dbDead, appLogs, logDead, results] = await Promise.all([
    readTopic(brokers, topics.dbEvents),
    readTopic(brokers, `${topics.dbEvents}.dlq`),
    readTopic(brokers, topics.appLogs),
    readTopic(brokers, `${topics.appLogs}.dlq`),
    readTopic(brokers, topics.dbResults),
  ]);
  const dbEventRecords = new Map<string, Array<{ partition: number; offset: bigint }>>();
  for (const record of dbEvents) {
    const key = keyOf(parse(record));
    if (key !== undefined) dbEventRecords.set(key, [...(dbEventRecords.get(key) ?? []), { partition: record.partition, offset: record.offset }]);
  }
  const logRecords: Array<{ key: string; line: string }> = [];
  for (const record of appLogs) {
    const event = parse(record);
    const key = keyOf(event);
    const line = lineOf(event);
    if (key !== undefined && line !== undefined) logRecords.push({ key, line });
  }
  const resultRecords = new Map<string, ResultCopy[]>();
  for (const record of results) {
    const id = record.headers.get('kitsune-id') ?? `${record.partition}/${record.offset}`;
    const at = Date.parse(String((parse(record) as { completed_at?: unknown } | undefined)?.completed_at));
    resultRecords.set(id, [...(resultRecords.get(id) ?? []), { at, worker: record.headers.get(workerHeader) }]);
  }
  return {
    effects,
    dbEventRecords,
    deadLetters: dbDead.map((record) => ({ key: keyOf(parse(record)), sqlstate: record.headers.get('kitsune-dlq-sqlstate') })),
    logRecords,
    logDeadLetters: new Set(logDead.map((record) => lineOf(parse(record))).filter((line): line is string => line !== undefined)),
    lokiLines: sources.loki.entries().map((entry) => `${entry.metadata.event_id ?? '?'}@${entry.ts}`),
    lokiDuplicatesDropped: sources.loki.stats().duplicateEntries,
    resultRecords,
  };
}
