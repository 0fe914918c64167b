/**
 * PostgreSQL stopped while 5,000 events flow, until the DB worker's breaker opens: nothing may
 * reach the DLQ, the breaker must close again, and every event must be applied once after the
 * restart. The worker gets
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
import { freePort } from '../../../src/cli/ports.ts';
import { background } from '../../support/background.ts';
import { kafkaSkip } from '../../support/services.ts';
import { startTcpProxy } from '../../transport/postgres/tcp-proxy.ts';
import { createUserEvent, freshTopics, openDatabase, openKafka, publishEvents, registry, silentLogger, waitFor } from './support.ts';

test('PostgreSQL down while 5,000 events flow, until the breaker opens: no dead letters, the breaker closes again, every event applied once', { skip: kafkaSkip, timeout: 300_000 }, async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'kitsune-outage-'));
  await chmod(parent, 0o755); // as root the server runs as `postgres`, which must enter it
  const dataDir = join(parent, 'pg');
  let server = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  // The worker reaches the server through a proxy that keeps its port: the restarted server takes
  // a fresh free port, since another process may have taken the old one during the outage.
  const proxy = await startTcpProxy(server.dsn);
  const pool = await openDatabase(proxy.dsn);
  const topics = freshTopics();
  const transport = await openKafka(topics);
  const closers: Array<() => Promise<unknown>> = [
    () => transport.close(),
    () => pool.end(),
    () => proxy.close(),
    () => stopByPid(server.pid),
    () => rm(parent, { recursive: true, force: true }),
  ];
  // In this order: the worker lets go of the pool before the pool ends, and the pool before the server.
  t.after(async () => {
    for (const close of closers) await close();
  });
  const transitions: string[] = [];
  const outcomes = new Map<string, number>();
  const worker = createDbWorker({
    transport,
    pool,
    registry: await registry(),
    topics,
    group: `outage-${topics.dbEvents}`,
    logger: silentLogger,
    hooks: {
      onBreakerChange: (_from, to) => transitions.push(to),
      onOutcome: (status) => outcomes.set(status, (outcomes.get(status) ?? 0) + 1),
    },
  });
  await worker.start();
  closers.unshift(() => worker.stop());

  const succeeded = async (): Promise<number> =>
    Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM kitsune.event_results WHERE status = 'succeeded'")).rows[0]?.n);
  const events = Array.from({ length: 5_000 }, (_, i) => createUserEvent(`outage-${i}@example.com`));
  const flowing = background(
    (async () => {
      for (let i = 0; i < events.length; i += 125) {
        await publishEvents(transport, topics.dbEvents, events.slice(i, i + 125));
        await sleep(250);
      }
    })(),
  );
  await waitFor('the first events applied before the outage', 60_000, async () => ((await succeeded()) > 0 ? true : undefined));
  await stopByPid(server.pid);
  const stoppedAt = Date.now();
  // The outage lasts until the worker noticed (breaker open) and every event was published.
  await waitFor('the breaker to open', 120_000, () => (transitions.includes('open') ? true : undefined));
  await flowing;
  server = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  proxy.retarget(server.dsn);
  const outageSeconds = (Date.now() - stoppedAt) / 1000;

  await waitFor('every event to be applied', 120_000, async () => ((await succeeded()) === events.length ? true : undefined));
  // Stopping finishes what is in flight, so every outcome has been reported when it returns.
  await worker.stop();
  const users = await pool.query<{ n: string; distinct_emails: string }>('SELECT count(*) AS n, count(DISTINCT email) AS distinct_emails FROM users');
  const keys = await pool.query<{ n: string }>('SELECT count(*) AS n FROM kitsune.idempotency_log');
  assert.equal(Number(users.rows[0]?.n), 5_000, 'every event applied');
  assert.equal(Number(users.rows[0]?.distinct_emails), 5_000, 'none applied twice');
  assert.equal(Number(keys.rows[0]?.n), 5_000);
  assert.equal(outcomes.get('dead_lettered') ?? 0, 0, 'an outage never dead-letters');
  assert.ok(transitions.includes('open'), `the breaker opened (transitions: ${transitions.join(' → ')})`);
  assert.equal(transitions.at(-1), 'closed', `and closed again (transitions: ${transitions.join(' → ')})`);
  assert.equal(worker.breakerState, 'closed');
  t.diagnostic(`outage ${outageSeconds.toFixed(1)} s; breaker: ${transitions.join(' → ')}`);
});
