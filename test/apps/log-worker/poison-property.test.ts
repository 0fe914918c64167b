/**
 * Property: whatever another producer writes to app-logs in embedded mode (the Postgres log and
 * the PostgreSQL sink), interleaved with good lines on the same partition, every good line is
 * stored, every bad record is in the DLQ once with a reason, no batch fails, and the worker keeps
 * consuming. fast-check prints the seed of a failing run; KITSUNE_FC_SEED=<seed> replays it,
 * KITSUNE_FC_RUNS=<n> searches longer.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { pino } from 'pino';
import { createLogWorker, type LogWorker } from '../../../src/apps/log-worker/build.ts';
import { createPostgresSink } from '../../../src/apps/log-worker/postgres-sink.ts';
import { kitsuneMigrationsDir, migrate } from '../../../src/db/migrate.ts';
import { dlqHeaders } from '../../../src/transport/dead-letter.ts';
import { createPostgresTransport } from '../../../src/transport/postgres/index.ts';
import type { ReceivedMessage, Transport } from '../../../src/transport/types.ts';
import { createDatabase } from '../../support/database.ts';
import { recordSequence, type RawRecord } from '../../support/poison.ts';
import { waitFor } from './helpers.ts';

const seed = process.env.KITSUNE_FC_SEED === undefined ? undefined : Number(process.env.KITSUNE_FC_SEED);
/** Kept small so the suite stays fast; KITSUNE_FC_RUNS=200 for a longer search. */
const numRuns = Number(process.env.KITSUNE_FC_RUNS ?? 8);

describe('log worker on the Postgres log with the PostgreSQL sink: arbitrary records from any producer', () => {
  const topic = `app-logs-${randomUUID()}`;
  let drop: () => Promise<void>;
  let pool: pg.Pool;
  let transport: Transport;
  let worker: LogWorker;
  const dlq: ReceivedMessage[] = [];
  const warnings: Array<{ msg: string }> = [];

  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = new pg.Pool({ connectionString: database.dsn, max: 8 });
    await migrate(pool, [{ dir: kitsuneMigrationsDir, scope: 'kitsune' }]);
    transport = createPostgresTransport({ pool, retention: false });
    await transport.ensureTopics([{ name: topic, partitions: 1 }, { name: `${topic}.dlq`, partitions: 1 }]);
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as { msg: string }) });
    worker = createLogWorker({ subscriber: transport, publisher: transport, sink: createPostgresSink({ pool }), topic, group: `log-worker-${topic}`, logger });
    await worker.start();
    await transport.subscribe(`${topic}.dlq`, (message) => Promise.resolve(void dlq.push(message)), { group: `reader-${randomUUID()}` });
  });
  after(async () => {
    await worker.stop();
    await transport.close();
    await pool.end();
    await drop();
  });

  test('every good line is stored, every bad record is dead-lettered once with a reason, no batch fails', async () => {
    await fc.assert(
      fc.asyncProperty(recordSequence, async (records: RawRecord[]) => {
        await transport.publish(topic, records.map((r) => ({ id: r.id, value: r.value })));
        const good = records.filter((r) => r.log === 'ok');
        const bad = records.filter((r) => r.log === 'dead');
        const stored = async (): Promise<Set<string>> => {
          const { rows } = await pool.query<{ event_id: string }>('SELECT event_id FROM kitsune.logs WHERE event_id = ANY($1)', [good.map((r) => r.eventId!)]);
          return new Set(rows.map((row) => row.event_id));
        };
        const missing = async (): Promise<string> => {
          const done = await stored();
          const lines = good.filter((r) => !done.has(r.eventId!)).map((r) => `not stored: ${r.description.slice(0, 80)}`);
          const letters = bad.filter((r) => !dlq.some((m) => m.id === r.id)).map((r) => `not dead-lettered: ${r.description.slice(0, 80)}`);
          return [...lines, ...letters, ...warnings.slice(-5).map((w) => `logged: ${JSON.stringify(w).slice(0, 400)}`)].join('\n');
        };
        await waitFor('every good line stored and every bad record in the DLQ', async () => (await stored()).size === good.length && bad.every((r) => dlq.some((m) => m.id === r.id)), 60_000, async () => `\n${await missing()}`);
        for (const record of bad) {
          const letters = dlq.filter((m) => m.id === record.id);
          assert.equal(letters.length, 1, `one dead letter for ${record.description.slice(0, 200)}`);
          assert.ok((letters[0]!.headers[dlqHeaders.reason] ?? '').length > 0, 'with a reason');
          assert.ok(letters[0]!.value.equals(record.value), 'with the raw bytes');
        }
        assert.deepEqual(warnings.filter((w) => w.msg !== 'log line dead-lettered').map((w) => w.msg), [], 'no batch failed, nothing else went wrong');
      }),
      { numRuns, ...(seed === undefined ? {} : { seed }), endOnFailure: true },
    );
  });
});
