/**
 * Per-run isolation on the shared services: fresh topics (deleted afterwards) and a fresh
 * database (dropped afterwards), so a benchmark never reads another run's events or rows and
 * leaves nothing behind. Plus reading a counter from a worker's /metrics.
 */
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import pg from 'pg';
import { pino } from 'pino';
import { repoRoot } from '../../scripts/services/state.ts';
import { migrate, migrationFolders } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { createKafkaTransport } from '../../src/transport/kafka/index.ts';

export interface BenchTopics {
  dbEvents: string;
  appLogs: string;
  dbResults: string;
  /** The environment that points a Kitsune role at these topics. */
  env: Record<string, string>;
  /** Every topic Kitsune creates for them (dead-letter topics included). */
  all: string[];
}

export function benchTopics(prefix: string): BenchTopics {
  const dbEvents = `${prefix}-db-events`;
  const appLogs = `${prefix}-app-logs`;
  const dbResults = `${prefix}-db-results`;
  return {
    dbEvents,
    appLogs,
    dbResults,
    env: { KITSUNE_TOPIC_DB_EVENTS: dbEvents, KITSUNE_TOPIC_APP_LOGS: appLogs, KITSUNE_TOPIC_DB_RESULTS: dbResults },
    all: [dbEvents, `${dbEvents}.dlq`, appLogs, `${appLogs}.dlq`, dbResults],
  };
}

/** Creates a run's topics as Kitsune would at start-up: db-events 6 partitions, app-logs 3, db-results 6. */
export async function createTopics(brokers: string[], topics: BenchTopics): Promise<void> {
  const transport = createKafkaTransport({ brokers, clientId: 'bench-setup' });
  try {
    await transport.ensureTopics([
      { name: topics.dbEvents, partitions: 6 },
      { name: topics.appLogs, partitions: 3 },
      { name: topics.dbResults, partitions: 6 },
    ]);
  } finally {
    await transport.close();
  }
}

/** Deletes what exists of `names`; failures are reported, never thrown (cleanup must not mask a result). */
export async function deleteTopics(brokers: string[], names: string[]): Promise<void> {
  const admin = new Admin({ clientId: 'bench-cleanup', bootstrapBrokers: brokers });
  try {
    const existing = new Set(await admin.listTopics());
    const doomed = names.filter((name) => existing.has(name));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed });
  } catch (error) {
    process.stderr.write(`bench: could not delete topics ${names.join(', ')}: ${String(error)}\n`);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

export interface BenchDatabase {
  dsn: string;
  drop(): Promise<void>;
}

/** A fresh database on the server of `adminDsn`, with Kitsune's and the app's migrations applied. */
export async function createDatabase(adminDsn: string, name: string): Promise<BenchDatabase> {
  const admin = new pg.Client({ connectionString: adminDsn });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminDsn);
  url.pathname = `/${name}`;
  const dsn = url.toString();
  const pool = createPool({ dsn, max: 2, logger: pino({ level: 'silent' }) });
  try {
    await migrate(pool, migrationFolders(join(repoRoot, 'migrations')));
  } finally {
    await pool.end();
  }
  let dropped: Promise<void> | undefined;
  return {
    dsn,
    drop: () =>
      (dropped ??= (async () => {
        const client = new pg.Client({ connectionString: adminDsn });
        await client.connect();
        try {
          await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await client.end();
        }
      })()),
  };
}

/** The sum of every series of counter `name` on a Prometheus text endpoint. */
export async function metricSum(url: string, name: string): Promise<number> {
  const response = await fetch(url);
  const text = await response.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
