/**
 * PostgreSQL stopped for 30 s while 5,000 events flow: nothing may reach the DLQ, the breaker
 * must open and close, and every event must be applied once after the restart. The worker gets
 * its own PostgreSQL server here, since stopping the shared one would break other suites.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { createDbWorker } from '../../../src/apps/db-worker/worker.ts';
import { startEmbeddedPostgres, stopByPid } from '../../../src/db/embedded.ts';
import type { ReceivedMessage } from '../../../src/transport/types.ts';
import { freePort } from '../../../src/cli/ports.ts';
import { kafkaSkip } from '../../support/services.ts';
import { collect, createUserEvent, freshTopics, openDatabase, openKafka, publishEvents, registry, silentLogger, waitFor } from './support.ts';

test('PostgreSQL down for 30 s while 5,000 events flow: no dead letters, the breaker opens and closes, every event applied once', { skip: kafkaSkip, timeout: 180_000 }, async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'kitsune-outage-'));
  await chmod(parent, 0o755); // as root the server runs as `postgres`, which must enter it
  const dataDir = join(parent, 'pg');
  const port = await freePort();
  let server = await startEmbeddedPostgres({ dataDir, port });
  const pool = await openDatabase(server.dsn);
  const topics = freshTopics();
  const transport = await openKafka(topics);
  const closers: Array<() => Promise<unknown>> = [
    () => transport.close(),
    () => pool.end(),
    () => stopByPid(server.pid),
    () => rm(parent, { recursive: true, force: true }),
  ];
  // In this order: the worker lets go of the pool before the pool ends, and the pool before the server.
  t.after(async () => {
    for (const close of closers) await close();
  });
  const dlq: ReceivedMessage[] = await collect(transport, `${topics.dbEvents}.dlq`);
  const transitions: string[] = [];
  const worker = createDbWorker({
    transport,
    pool,
    registry: await registry(),
    topics,
    group: `outage-${topics.dbEvents}`,
    logger: silentLogger,
    hooks: { onBreakerChange: (_from, to) => transitions.push(to) },
  });
  await worker.start();
  closers.unshift(() => worker.stop());

  const events = Array.from({ length: 5_000 }, (_, i) => createUserEvent(`outage-${i}@example.com`));
  const flowing = (async () => {
    for (let i = 0; i < events.length; i += 125) {
      await publishEvents(transport, topics.dbEvents, events.slice(i, i + 125));
      await sleep(250);
    }
  })();
  await sleep(2_000);
  await stopByPid(server.pid);
  const stoppedAt = Date.now();
  await sleep(30_000);
  server = await startEmbeddedPostgres({ dataDir, port });
  const outageSeconds = (Date.now() - stoppedAt) / 1000;
  await flowing;

  await waitFor('every event to be applied', 90_000, async () => {
    const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM kitsune.event_results WHERE status = 'succeeded'");
    return Number(rows[0]?.n) === events.length ? true : undefined;
  });
  const users = await pool.query<{ n: string; distinct_emails: string }>('SELECT count(*) AS n, count(DISTINCT email) AS distinct_emails FROM users');
  const keys = await pool.query<{ n: string }>('SELECT count(*) AS n FROM kitsune.idempotency_log');
  assert.equal(Number(users.rows[0]?.n), 5_000, 'every event applied');
  assert.equal(Number(users.rows[0]?.distinct_emails), 5_000, 'none applied twice');
  assert.equal(Number(keys.rows[0]?.n), 5_000);
  await sleep(500);
  assert.equal(dlq.length, 0, 'an outage never dead-letters');
  assert.ok(transitions.includes('open'), `the breaker opened (transitions: ${transitions.join(' → ')})`);
  assert.equal(transitions.at(-1), 'closed', `and closed again (transitions: ${transitions.join(' → ')})`);
  assert.equal(worker.breakerState, 'closed');
  t.diagnostic(`outage ${outageSeconds.toFixed(1)} s; breaker: ${transitions.join(' → ')}`);
});
