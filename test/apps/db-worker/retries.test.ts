/**
 * The DB worker's retry path as it runs, on Kafka and PostgreSQL: a command whose SQL fails with a
 * planned SQLSTATE (test/fixtures/app: planned_step reads planned_failures) is retried with
 * Kitsune's backoff, its attempts are recorded, and it then succeeds or is dead-lettered with
 * KITSUNE_RETRIES_EXHAUSTED; the events before it in its batch apply exactly once; only PostgreSQL
 * outages count towards the circuit breaker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import type pg from 'pg';
import { backoffMs } from '../../../src/backoff.ts';
import { createDbWorker, type BatchRetryInfo, type DbWorker } from '../../../src/apps/db-worker/worker.ts';
import { encodeEvent, type CommandEvent } from '../../../src/events/envelope.ts';
import { ErrorCodes, KitsuneError } from '../../../src/errors.ts';
import type { CircuitState } from '../../../src/transport/circuit-breaker.ts';
import { dlqHeaders } from '../../../src/transport/dead-letter.ts';
import type { OutgoingMessage, ReceivedMessage, Transport } from '../../../src/transport/types.ts';
import { createDatabase } from '../../support/database.ts';
import { kafkaSkip } from '../../support/services.ts';
import { collect, freshTopics, openKafka, openTestAppDatabase, silentLogger, testAppRegistry, testEvent, waitFor } from './support.ts';

const policy = { retryBaseMs: 40, retryMaxMs: 320, random: () => 0.5 };

describe('DB worker retries on Kafka and PostgreSQL', { skip: kafkaSkip }, () => {
  const topics = freshTopics();
  let drop: () => Promise<void>;
  let pool: pg.Pool;
  let kafka: Transport;
  let worker: DbWorker;
  let dlq: ReceivedMessage[];
  let results: ReceivedMessage[];
  const retries: BatchRetryInfo[] = [];
  const breaker: CircuitState[] = [];
  /** Publishes to db-results fail while this is above 0 (each failure counts it down). */
  let failResultPublishes = 0;

  // The real broker, with a fault in front of one topic: the broker refusing the results.
  const faulty = (transport: Transport): Transport => ({
    name: transport.name,
    features: transport.features,
    ensureTopics: (specs) => transport.ensureTopics(specs),
    subscribe: (topic, handler, options) => transport.subscribe(topic, handler, options),
    subscribeBatch: (topic, handler, options) => transport.subscribeBatch(topic, handler, options),
    consumerLag: (queries) => transport.consumerLag(queries),
    close: () => Promise.resolve(),
    publish: (topic: string, messages: readonly OutgoingMessage[]) => {
      if (topic === topics.dbResults && failResultPublishes > 0) {
        failResultPublishes -= 1;
        return Promise.reject(new KitsuneError(ErrorCodes.PUBLISH_FAILED, 'Kafka did not accept the results (planned)', { retryable: true }));
      }
      return transport.publish(topic, messages);
    },
  });

  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = await openTestAppDatabase(database.dsn);
    kafka = await openKafka(topics);
    worker = createDbWorker({
      transport: faulty(kafka),
      pool,
      registry: await testAppRegistry(),
      topics,
      group: `db-worker-${topics.dbEvents}`,
      logger: silentLogger,
      options: { ...policy, maxTransientAttempts: 3, breakerThreshold: 2 },
      hooks: { onRetry: (info) => retries.push(info), onBreakerChange: (_from, to) => breaker.push(to) },
    });
    await worker.start();
    dlq = await collect(kafka, `${topics.dbEvents}.dlq`);
    results = await collect(kafka, topics.dbResults);
  });
  after(async () => {
    await worker.stop();
    await kafka.close();
    await pool.end();
    await drop();
  });
  beforeEach(() => {
    retries.length = 0;
    breaker.length = 0;
  });

  /** Plans `times` failures of planned_step(key) with `sqlstate` ('terminate' drops the connection). */
  const plan = async (key: string, sqlstate: string, times: number): Promise<void> => {
    const sequence = `runs_${randomUUID().replaceAll('-', '')}`;
    await pool.query(`CREATE SEQUENCE ${sequence}`);
    await pool.query('INSERT INTO planned_failures (key, sqlstate, times, runs) VALUES ($1, $2, $3, $4)', [key, sqlstate, times, sequence]);
  };

  /** Two ledger appends, the planned step, one more append: one key, so one partition, in this order. */
  const scenario = async (key: string): Promise<{ before: CommandEvent[]; step: CommandEvent; later: CommandEvent }> => {
    const events = {
      before: [testEvent('ledger_append', { account: key, amount: 1 }), testEvent('ledger_append', { account: key, amount: 10 })],
      step: testEvent('planned_step', { key }),
      later: testEvent('ledger_append', { account: key, amount: 100 }),
    };
    const all = [...events.before, events.step, events.later];
    await kafka.publish(topics.dbEvents, all.map((event) => ({ id: event.id, key, value: encodeEvent(event) })));
    return events;
  };

  const resultOf = async (id: string) =>
    (await pool.query<{ status: string; attempts: number; error: { code?: string } | null }>('SELECT status, attempts, error FROM kitsune.event_results WHERE event_id = $1', [id])).rows[0];
  const ledger = async (account: string) =>
    (await pool.query<{ rows: string; total: string | null }>('SELECT count(*) AS rows, sum(amount) AS total FROM ledger WHERE account = $1', [account])).rows[0]!;
  const steps = async (key: string) => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM planned_steps WHERE key = $1', [key])).rows[0]!.n);
  const pendingAttempts = async (id: string) => (await pool.query('SELECT 1 FROM kitsune.event_attempts WHERE event_id = $1', [id])).rowCount;

  /** Each wait was Kitsune's backoff for its partition's count of consecutive failures. */
  const assertBackoff = (infos: readonly BatchRetryInfo[]): void => {
    for (const info of infos) assert.equal(info.delayMs, backoffMs(info.failures, { baseMs: policy.retryBaseMs, maxMs: policy.retryMaxMs, random: policy.random }));
    const failures = infos.map((info) => info.failures);
    assert.deepEqual(failures, failures.map((_, i) => i + 1), 'consecutive failures of one partition, counted up');
  };

  for (const sqlstate of ['40001', '40P01', '55P03', '57014']) {
    test(`${sqlstate} twice over: the step is retried with backoff, its attempts recorded, then applied once; the events around it once; the breaker stays closed`, async () => {
      const key = `retry-${sqlstate}-${randomUUID()}`;
      // Each failed delivery runs the step twice (the fast path, then the careful path).
      await plan(key, sqlstate, 4);
      const { before: earlier, step, later } = await scenario(key);
      await waitFor('the step to succeed', 60_000, async () => ((await resultOf(step.id))?.status === 'succeeded' ? true : undefined));
      await waitFor('the append after it', 30_000, async () => ((await resultOf(later.id))?.status === 'succeeded' ? true : undefined));
      assert.deepEqual(breaker, [], 'a transient SQLSTATE is not an outage');

      const transient = retries.filter((r) => r.system === 'postgresql-transient');
      assert.equal(transient.length, 2, 'two failed deliveries');
      assertBackoff(retries);
      assert.equal((await resultOf(step.id))?.attempts, 3, 'two transient failures, then the try that worked');
      assert.equal(await pendingAttempts(step.id), 0, 'the attempt count is cleared with the success');
      assert.equal(await steps(key), 1, 'the step applied once');
      for (const event of earlier) assert.equal((await resultOf(event.id))?.status, 'succeeded');
      assert.deepEqual(await ledger(key), { rows: '3', total: '111' }, 'each append once: the two before the step, the one after');
    });
  }

  test('a step that keeps failing is dead-lettered with KITSUNE_RETRIES_EXHAUSTED after maxTransientAttempts, and the partition moves on', async () => {
    const key = `exhausted-${randomUUID()}`;
    await plan(key, '40001', 1_000);
    const { step, later } = await scenario(key);
    await waitFor('the append after the step', 60_000, async () => ((await resultOf(later.id))?.status === 'succeeded' ? true : undefined));
    const stored = await resultOf(step.id);
    assert.equal(stored?.status, 'dead_lettered');
    assert.equal(stored?.error?.code, 'KITSUNE_RETRIES_EXHAUSTED');
    assert.equal(stored?.attempts, 3);
    const letter = await waitFor('the dead letter', 10_000, () => dlq.find((m) => m.id === step.id));
    assert.equal(letter.headers[dlqHeaders.code], 'KITSUNE_RETRIES_EXHAUSTED');
    assert.equal(letter.headers[dlqHeaders.sqlstate], '40001');
    assert.equal(letter.headers[dlqHeaders.attempts], '3');
    assert.equal(retries.filter((r) => r.system === 'postgresql-transient').length, 2, 'tries 1 and 2 were retried; try 3 gave up');
    assertBackoff(retries);
    assert.equal(await steps(key), 0);
    assert.deepEqual(await ledger(key), { rows: '3', total: '111' });
    assert.deepEqual(breaker, []);
  });

  test('a dropped connection fails the whole batch, which is retried: nothing before it applies twice, and the outage does not count as an attempt', async () => {
    const key = `dropped-${randomUUID()}`;
    await plan(key, 'terminate', 1);
    const { before: earlier, step } = await scenario(key);
    await waitFor('the step to succeed', 60_000, async () => ((await resultOf(step.id))?.status === 'succeeded' ? true : undefined));
    assert.ok(retries.some((r) => r.system === 'postgresql'), 'retried as PostgreSQL unavailable');
    assertBackoff(retries);
    assert.equal((await resultOf(step.id))?.attempts, 1, 'an outage is not the event\'s attempt');
    assert.equal(await steps(key), 1);
    for (const event of earlier) assert.equal((await resultOf(event.id))?.status, 'succeeded');
    await waitFor('the last append', 30_000, async () => ((await ledger(key)).rows === '3' ? true : undefined));
    assert.deepEqual(await ledger(key), { rows: '3', total: '111' });
    assert.ok(!breaker.includes('open'), 'one outage is under the threshold of two');
  });

  test('results the broker refuses are published again later, and that never opens the breaker', async () => {
    const key = `publish-${randomUUID()}`;
    failResultPublishes = 4;
    const event = testEvent('ledger_append', { account: key, amount: 5 });
    await kafka.publish(topics.dbEvents, [{ id: event.id, key, value: encodeEvent(event) }]);
    await waitFor('its result on db-results', 60_000, () => results.find((m) => m.key === event.id));
    assert.deepEqual(breaker, [], 'four refusals in a row, threshold two: the broker is not PostgreSQL');
    assert.equal(failResultPublishes, 0);
    assert.equal(retries.filter((r) => r.system === 'broker').length, 4);
    assert.deepEqual(await ledger(key), { rows: '1', total: '5' }, 'redelivered, applied once');
  });
});
