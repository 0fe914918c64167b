import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { createLogWorker } from '../../../src/apps/log-worker/build.ts';
import { logLineOf } from '../../../src/apps/log-worker/log-line.ts';
import { createPostgresSink } from '../../../src/apps/log-worker/postgres-sink.ts';
import { DeadLetterReasons } from '../../../src/apps/log-worker/sink.ts';
import { kitsuneMigrationsDir, migrate } from '../../../src/db/migrate.ts';
import type { CommandEvent } from '../../../src/events/envelope.ts';
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import { dlqHeaders } from '../../../src/transport/dead-letter.ts';
import type { ReceivedMessage } from '../../../src/transport/types.ts';
import { createDatabase } from '../../support/database.ts';
import { kafkaBrokers, kafkaSkip } from '../../support/services.ts';
import { appLogRecord, logEvent, publishAll, readTopic, waitFor } from './helpers.ts';

/** A pool on a fresh, migrated database; the pool is ended before the database is dropped. */
async function migratedPool(t: TestContext): Promise<pg.Pool> {
  const database = await createDatabase();
  const pool = new pg.Pool({ connectionString: database.dsn, max: 4 });
  t.after(async () => {
    await pool.end();
    await database.drop();
  });
  await migrate(pool, [{ dir: kitsuneMigrationsDir, scope: 'kitsune' }]);
  return pool;
}

const received = (record: ReturnType<typeof appLogRecord>, offset: number): ReceivedMessage => ({
  id: record.id,
  key: undefined,
  value: record.value,
  headers: record.headers ?? {},
  topic: 'app-logs',
  partition: 0,
  offset: BigInt(offset),
  timestamp: Date.now(),
  attempt: 1,
});

/**
 * An event PostgreSQL refuses alone: JavaScript's earliest date is long before timestamptz's
 * (4713 BC), so the row fails with a class 22 SQLSTATE. (The envelope itself refuses U+0000.)
 */
const outOfRange = (event: CommandEvent): CommandEvent => ({ ...event, metadata: { ...event.metadata, timestamp: new Date(-8.64e15).toISOString() } });

describe('the PostgreSQL log sink', () => {
  test('writing the same lines again stores each once, with the event\'s own timestamp and trace id', async (t) => {
    const pool = await migratedPool(t);
    const sink = createPostgresSink({ pool });
    t.after(() => sink.close());
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const lines = Array.from({ length: 5 }, (_, i) => logLineOf(received(appLogRecord(logEvent(i)), i)));
    const traced = logLineOf(received(appLogRecord(logEvent(9), `00-${traceId}-b7ad6b7169203331-01`), 9));

    assert.deepEqual(await sink.write([...lines, traced]), []);
    assert.deepEqual(await sink.write([...lines, lines[0]!]), [], 'a redelivery, and a line twice in one batch');

    const { rows } = await pool.query<{ event_id: string; ts: Date; trace_id: string | null; message: string }>(
      'SELECT event_id, ts, trace_id, message FROM kitsune.logs ORDER BY ts, event_id',
    );
    assert.equal(rows.length, 6);
    const byId = new Map(rows.map((row) => [row.event_id, row]));
    for (const line of [...lines, traced]) {
      assert.equal(byId.get(line.eventId)?.ts.getTime(), line.timestampMs);
      assert.equal(byId.get(line.eventId)?.message, line.message);
    }
    assert.equal(byId.get(traced.eventId)?.trace_id, traceId);
  });

  test('a line PostgreSQL refuses on its own is reported with its SQLSTATE, and the rest of its batch is stored', async (t) => {
    const pool = await migratedPool(t);
    const sink = createPostgresSink({ pool });
    t.after(() => sink.close());
    const good = [0, 1, 3].map((i) => logLineOf(received(appLogRecord(logEvent(i)), i)));
    const bad = logLineOf(received(appLogRecord(outOfRange(logEvent(2))), 2));

    const rejections = await sink.write([good[0]!, good[1]!, bad, good[2]!]);

    assert.equal(rejections.length, 1);
    assert.equal(rejections[0]?.index, 2);
    assert.equal(rejections[0]?.reason, DeadLetterReasons.rejectedByPostgres);
    assert.match((rejections[0]?.error as { sqlstate?: string }).sqlstate ?? '', /^22/);
    const { rows } = await pool.query<{ event_id: string }>('SELECT event_id FROM kitsune.logs');
    assert.deepEqual(new Set(rows.map((row) => row.event_id)), new Set(good.map((line) => line.eventId)));
  });
});

describe('log worker with the PostgreSQL sink, against a real Kafka broker', { skip: kafkaSkip }, () => {
  test('app-logs lines land in kitsune.logs once each, a bad one in the DLQ, and stop() commits so a restart redelivers nothing', async (t) => {
    const pool = await migratedPool(t);
    const topic = `app-logs-${randomUUID()}`;
    const group = `log-worker-${randomUUID()}`;
    const transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'log-worker-pg' });
    t.after(() => transport.close());
    await transport.ensureTopics([
      { name: topic, partitions: 3 },
      { name: `${topic}.dlq`, partitions: 1 },
    ]);
    const start = async (): Promise<ReturnType<typeof createLogWorker>> => {
      const worker = createLogWorker({ subscriber: transport, publisher: transport, sink: createPostgresSink({ pool }), topic, group });
      t.after(() => worker.stop());
      await worker.start();
      return worker;
    };
    const count = async (): Promise<number> => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM kitsune.logs')).rows[0]?.n);

    const events = Array.from({ length: 300 }, (_, i) => logEvent(i));
    const bad = outOfRange(logEvent(300));
    // The same record twice (a client retry with the same idempotency key reuses the id).
    await publishAll(transport, topic, [...events, bad, events[0]!].map((event) => appLogRecord(event)));
    const first = await start();
    await waitFor('300 rows', async () => (await count()) >= 300, 30_000);
    await waitFor('the bad line dead-lettered', () => first.counters().deadLettered.size > 0, 10_000);
    await first.stop();

    assert.equal(await count(), 300);
    const letters = await readTopic(`${topic}.dlq`);
    assert.deepEqual(letters.map((letter) => letter.id), [bad.id]);
    assert.match(letters[0]?.headers.get(dlqHeaders.reason) ?? '', /^PostgreSQL refused the log line/);
    assert.match(letters[0]?.headers.get(dlqHeaders.sqlstate) ?? '', /^22/);
    assert.deepEqual(first.counters().deadLettered, new Map([[DeadLetterReasons.rejectedByPostgres, 1]]));
    assert.equal(first.counters().delivered.get('postgres'), 301, 'the duplicate record counts as delivered; the table keeps one row');

    const later = Array.from({ length: 10 }, (_, i) => logEvent(1_000 + i));
    await publishAll(transport, topic, later.map((event) => appLogRecord(event)));
    const second = await start();
    await waitFor('310 rows', async () => (await count()) >= 310, 30_000);
    await second.stop();
    assert.equal(second.counters().received, 10, 'nothing acknowledged before stop() came back');
  });
});
