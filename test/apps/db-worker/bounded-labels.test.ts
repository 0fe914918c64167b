/**
 * Producers cannot grow the DB worker's metrics: 2,000 records straight to db-events, each with a
 * command and version no registry has, add a handful of series at most (command="unknown",
 * version="unknown"), not 2,000.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { Registry as MetricsRegistry } from 'prom-client';
import { dbWorkerMetrics } from '../../../src/apps/db-worker/metrics.ts';
import { createDbWorker, type DbWorker } from '../../../src/apps/db-worker/worker.ts';
import { encodeEvent } from '../../../src/events/envelope.ts';
import type { Transport } from '../../../src/transport/types.ts';
import { createDatabase } from '../../support/database.ts';
import { kafkaSkip } from '../../support/services.ts';
import { createUserEvent, freshTopics, openDatabase, openKafka, publishEvents, registry, silentLogger, waitFor } from './support.ts';

const topics = freshTopics();
const metrics = new MetricsRegistry();
let drop: () => Promise<void>;
let pool: pg.Pool;
let transport: Transport;
let worker: DbWorker;

/** Every series of the DB worker's own families (kitsune_db_*), as `name{labels}`. */
async function series(): Promise<string[]> {
  const families = await metrics.getMetricsAsJSON();
  return families
    .filter((family) => family.name.startsWith('kitsune_db_'))
    .flatMap((family) => family.values.map((value) => `${'metricName' in value && typeof value.metricName === 'string' ? value.metricName : family.name}${JSON.stringify(value.labels)}`));
}

const deadLettered = async (): Promise<number> =>
  Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM kitsune.event_results WHERE status = 'dead_lettered'")).rows[0]?.n);

before(async () => {
  if (kafkaSkip) return;
  const database = await createDatabase();
  drop = database.drop;
  pool = await openDatabase(database.dsn);
  transport = await openKafka(topics);
  worker = createDbWorker({ transport, pool, registry: await registry(), topics, group: `db-worker-${topics.dbEvents}`, logger: silentLogger, hooks: dbWorkerMetrics(metrics) });
  await worker.start();
});
after(async () => {
  if (kafkaSkip) return;
  await worker.stop();
  await transport.close();
  await pool.end();
  await drop();
});

test('2,000 records with distinct unknown commands and versions add at most a handful of DB worker series', { skip: kafkaSkip, timeout: 180_000 }, async () => {
  // A baseline with every outcome the flood will produce: one success, one unknown command.
  const good = createUserEvent(`${randomUUID()}@example.com`);
  const first = { ...createUserEvent(`${randomUUID()}@example.com`), command: 'raw_unknown_first', version: 'v-first' };
  await publishEvents(transport, topics.dbEvents, [good, first]);
  await waitFor('the baseline dead letter', 60_000, async () => ((await deadLettered()) >= 1 ? true : undefined));
  const before = await series();

  const flood = Array.from({ length: 2_000 }, (_, i) => ({ ...createUserEvent(`flood-${i}-${randomUUID()}@example.com`), command: `raw_unknown_${i}`, version: `v${i}` }));
  for (let i = 0; i < flood.length; i += 500) {
    // Raw records, as another producer writes them: no command or version headers.
    await transport.publish(topics.dbEvents, flood.slice(i, i + 500).map((event) => ({ id: event.id, key: event.payload['email'] as string, value: encodeEvent(event) })));
  }
  // The counter, not the table: the worker counts a batch's outcomes after it published them.
  const counted = /kitsune_db_events_total\{status="dead_lettered",command="unknown",version="unknown"\} 2001$/m;
  await waitFor('all 2,001 dead letters counted', 120_000, async () => (counted.test(await metrics.metrics()) ? true : undefined));
  assert.equal(await deadLettered(), 2_001, 'each one dead-lettered once');
  const after = await series();

  const added = after.filter((s) => !before.includes(s));
  assert.ok(added.length <= 5, `at most a handful of new series, got ${added.length}: ${added.slice(0, 10).join(', ')}`);
  assert.ok(!after.some((s) => s.includes('raw_unknown') || /"v\d+"/.test(s)), 'no label carries a command or version from a record');
});
