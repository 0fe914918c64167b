/**
 * A 503 after the event may have been written names that event and the key that retries it: with
 * the broker frozen, a POST without a key answers 503 with an id, a key and Location; once the
 * broker resumes, the first publish lands anyway, and the retry with that key is the same event,
 * applied once by a real DB worker on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { pino } from 'pino';
import { buildApi } from '../../../src/apps/api/build.ts';
import { ResultWaiter } from '../../../src/apps/api/events.ts';
import { createDbWorker } from '../../../src/apps/db-worker/worker.ts';
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import type { Publisher } from '../../../src/transport/types.ts';
import { createDatabase } from '../../support/database.ts';
import { freezeBroker } from '../../support/broker-freeze.ts';
import { kafkaBrokers, kafkaPid, kafkaSkip } from '../../support/services.ts';
import { openDatabase, registry } from '../db-worker/support.ts';

const frozenSkip = kafkaSkip || (kafkaPid() === undefined && 'the broker is not run by this harness, so it must not be frozen');

test('a POST without a key during a broker outage gets an id and a key whose retry is the same event, applied once', { skip: frozenSkip, timeout: 180_000 }, async (t) => {
  const database = await createDatabase();
  t.after(() => database.drop());
  const pool = await openDatabase(database.dsn);
  t.after(() => pool.end());
  const suffix = randomUUID();
  const topics = { dbEvents: `db-events-${suffix}`, appLogs: `app-logs-${suffix}`, dbResults: `db-results-${suffix}` };
  const transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'unavailable-retry-test' });
  t.after(() => transport.close());
  await transport.ensureTopics([
    { name: topics.dbEvents, partitions: 3 },
    { name: `${topics.dbEvents}.dlq`, partitions: 1 },
    { name: topics.dbResults, partitions: 3 },
    { name: topics.appLogs, partitions: 1 },
  ]);

  // The real transport, with each publish's settlement observed: the test waits for the one the
  // 503 gave up on, so "written after all" is seen, not hoped for.
  const publishes: Array<Promise<'written' | 'failed'>> = [];
  const publisher: Publisher = {
    publish(topic, messages) {
      const sent = transport.publish(topic, messages);
      publishes.push(sent.then(() => 'written' as const, () => 'failed' as const));
      return sent;
    },
  };
  const logger = pino({ level: 'silent' });
  const worker = createDbWorker({ transport, pool, registry: await registry(), topics, group: `retry-${suffix}`, logger });
  await worker.start();
  t.after(() => worker.stop());
  const app = await buildApi({
    registry: await registry(),
    publisher,
    topics,
    limits: { bodyLimitBytes: 64 * 1024, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 10, publishTimeoutMs: 1_000 },
    results: new ResultWaiter(pool, { listen: false }),
    logger: false,
  });
  t.after(() => app.close());

  const body = JSON.stringify({ command: 'create_user', version: '1', payload: { name: 'Frozen', email: 'frozen@example.com' } });
  const pid = kafkaPid()!;
  const thaw = await freezeBroker(pid);
  let refused;
  try {
    refused = await app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'application/json' }, payload: body });
  } finally {
    thaw();
  }
  assert.equal(refused.statusCode, 503, refused.body);
  const { error } = refused.json<{ error: { code: string; message: string; id: string; idempotency_key: string } }>();
  assert.equal(error.code, 'broker_unavailable');
  assert.match(error.id, /^[0-9a-f-]{36}$/);
  assert.ok(error.idempotency_key.length > 0, 'a key was generated for a request that sent none');
  assert.equal(refused.headers.location, `/events/${error.id}`);
  assert.ok(Number(refused.headers['retry-after']) >= 1);
  assert.match(error.message, new RegExp(`retry with Idempotency-Key: ${error.idempotency_key}`));

  // The publish the 503 gave up on reaches the broker once it resumes: the event exists.
  assert.deepEqual(await Promise.all(publishes), ['written', 'written'], 'both records of the first attempt were written');

  const retried = await app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'application/json', 'idempotency-key': error.idempotency_key }, payload: body });
  assert.equal(retried.statusCode, 202, retried.body);
  assert.equal(retried.json<{ id: string }>().id, error.id, 'the retry is the same event');

  const outcome = await app.inject({ method: 'GET', url: `/events/${error.id}?wait=30` });
  assert.equal(outcome.json<{ status: string }>().status, 'succeeded', outcome.body);
  // Both copies were consumed: the second is acknowledged as a duplicate, with no second effect.
  const { rows: seen } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM kitsune.idempotency_log WHERE event_id = $1', [error.id]);
  assert.equal(seen[0]?.n, '1');
  const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM users WHERE email = 'frozen@example.com'");
  assert.equal(rows[0]?.n, '1', 'one user, not two');
});
