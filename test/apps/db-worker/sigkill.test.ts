/**
 * The worker process killed with SIGKILL three times while 10,000 events flow: after the last
 * restart every event is applied exactly once, and the ledger and idempotency tables agree with
 * what was sent. Kills land at random points: inside a batch transaction, between COMMIT and the
 * offset commit, while publishing results.
 *
 * The command is ledger_append (test/fixtures/app), which nothing but Kitsune's idempotency makes
 * idempotent: an event run twice leaves a second row and a wrong sum. (A command guarded by a
 * unique constraint would turn a second run into a 23505 dead letter, which no count of rows sees;
 * so the DLQ is checked to be empty as well.)
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { repoRoot } from '../../../scripts/services/state.ts';
import { background } from '../../support/background.ts';
import { createDatabase } from '../../support/database.ts';
import { kafkaBrokers, kafkaSkip } from '../../support/services.ts';
import { freshTopics, openKafka, openTestAppDatabase, publishEvents, testApp, testEvent, waitFor } from './support.ts';

test('a worker killed with SIGKILL three times while 10,000 events flow applies every event exactly once', { skip: kafkaSkip, timeout: 300_000 }, async (t) => {
  const database = await createDatabase();
  const topics = freshTopics();
  const transport = await openKafka(topics);
  const pool = await openTestAppDatabase(database.dsn);
  t.after(async () => {
    await transport.close();
    await pool.end();
    await database.drop();
  });

  const env = {
    ...process.env,
    POSTGRES_DSN: database.dsn,
    KAFKA_BROKERS: kafkaBrokers().join(','),
    KAFKA_GROUP_ID: `sigkill-${randomUUID()}`,
    KITSUNE_TOPIC_DB_EVENTS: topics.dbEvents,
    KITSUNE_TOPIC_DB_RESULTS: topics.dbResults,
    KITSUNE_TOPIC_APP_LOGS: `app-logs-${randomUUID()}`,
    KITSUNE_REGISTRY: testApp.registry,
    KITSUNE_MIGRATIONS_DIR: testApp.migrations,
    KITSUNE_LOG_LEVEL: 'error',
    KITSUNE_METRICS_PORT: '0', // another checkout's worker may hold the default port
  };
  let worker: ChildProcess | undefined;
  const startWorker = (): ChildProcess => spawn(process.execPath, ['bin/kitsune.js', 'db-worker'], { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'inherit'] });
  t.after(() => worker?.kill('SIGKILL'));
  const applied = async (): Promise<number> => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM kitsune.idempotency_log')).rows[0]?.n);

  // Amounts 1..10,000 over 60 accounts: every account's sum is known, and so is the total.
  const accounts = 60;
  const events = Array.from({ length: 10_000 }, (_, i) => testEvent('ledger_append', { account: `account-${i % accounts}`, amount: i + 1 }));
  const expected = new Map<string, number>();
  for (let i = 0; i < events.length; i++) expected.set(`account-${i % accounts}`, (expected.get(`account-${i % accounts}`) ?? 0) + i + 1);
  const flowing = background(
    (async () => {
      for (let i = 0; i < events.length; i += 250) {
        await publishEvents(transport, topics.dbEvents, events.slice(i, i + 250));
        await sleep(100);
      }
    })(),
  );

  const killedAt: number[] = [];
  for (let kill = 1; kill <= 3; kill++) {
    worker = startWorker();
    const floor = await applied();
    // Let it make progress, then kill it wherever it is.
    await waitFor(`progress before kill ${kill}`, 60_000, async () => ((await applied()) > floor + 300 ? true : undefined));
    await sleep(Math.random() * 300);
    worker.kill('SIGKILL');
    await new Promise((resolveExit) => worker!.once('exit', resolveExit));
    killedAt.push(await applied());
  }
  await flowing;
  worker = startWorker();
  await waitFor('all 10,000 events', 120_000, async () => ((await applied()) >= events.length ? true : undefined));
  // A graceful stop finishes what is in flight: after it nothing more can be applied, so the
  // counts below are final (no waiting for stragglers).
  const last = worker;
  const exited = new Promise((resolveExit) => last.once('exit', resolveExit));
  last.kill('SIGTERM');
  await exited;

  const ledger = await pool.query<{ account: string; n: string; total: string }>('SELECT account, count(*) AS n, sum(amount) AS total FROM ledger GROUP BY account');
  assert.equal(ledger.rows.reduce((n, row) => n + Number(row.n), 0), 10_000, 'one ledger row per event');
  assert.deepEqual(new Map(ledger.rows.map((row) => [row.account, Number(row.total)])), expected, 'every account sums to what was sent');
  const log = await pool.query<{ n: string; ids: string }>('SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM kitsune.idempotency_log');
  const sent = new Set(events.map((e) => e.id));
  const recorded = await pool.query<{ event_id: string }>('SELECT event_id FROM kitsune.idempotency_log');
  assert.equal(Number(log.rows[0]?.n), 10_000, 'one idempotency row per event');
  assert.equal(Number(log.rows[0]?.ids), 10_000);
  assert.ok(recorded.rows.every((row) => sent.has(row.event_id)), 'the idempotency table holds exactly the events sent');
  const results = await pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM kitsune.event_results GROUP BY status');
  assert.deepEqual(Object.fromEntries(results.rows.map((row) => [row.status, Number(row.n)])), { succeeded: 10_000 }, 'every event succeeded, none dead-lettered');
  // The broker's own count of records on the DLQ: a group that never committed lags by all of them.
  const dlq = await transport.consumerLag([{ group: `nobody-${randomUUID()}`, topic: `${topics.dbEvents}.dlq` }]);
  assert.ok(dlq.length > 0, 'the worker created its DLQ topic');
  assert.equal(dlq.reduce((n, partition) => n + partition.records, 0), 0, 'nothing on the DLQ');
  t.diagnostic(`applied when killed: ${killedAt.join(', ')}`);
});
