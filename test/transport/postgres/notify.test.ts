import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReceivedMessage } from '../../../src/transport/types.ts';
import { postgresDsn } from '../../support/services.ts';
import { fresh, logFixture, message, seqOf, waitFor, type LogFixture } from './helpers.ts';
import { startTcpProxy } from './tcp-proxy.ts';

/**
 * The fallback poll is ten minutes and every wait for a delivery gives up after one: a delivery
 * seen at all was woken by NOTIFY, however slow the machine. Latencies are reported, not asserted.
 */
const noPolling = { pollIntervalMs: 600_000 } as const;

async function listenerPids(log: LogFixture): Promise<number[]> {
  const { rows } = await log.admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE position($1 in query) > 0 AND state = 'idle' AND pid <> pg_backend_pid()`,
    [`LISTEN "${log.schema}";`],
  );
  return rows.map((row) => row.pid);
}

async function deliveryLatency(publish: () => Promise<void>, received: readonly ReceivedMessage[]): Promise<number> {
  const before = received.length;
  const start = Date.now();
  await publish();
  await waitFor(() => received.length > before, 60_000, () => 'the notified delivery');
  return Date.now() - start;
}

test('NOTIFY wakes a consumer long before the fallback poll', async (t) => {
  const log = logFixture(t);
  const transport = log.open(noPolling);
  const topic = fresh('notify');
  const received: ReceivedMessage[] = [];
  await transport.subscribe(topic, (m) => {
    received.push(m);
    return Promise.resolve();
  }, { group: fresh('g') });
  await waitFor(async () => (await listenerPids(log)).length === 1, 30_000, () => 'the listener');

  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) latencies.push(await deliveryLatency(() => transport.publish(topic, [message(i)]), received));
  t.diagnostic(`latencies ${latencies.join(', ')} ms`);
  assert.deepEqual(received.map(seqOf), [0, 1, 2, 3, 4]);
});

test('a publisher in another process wakes the consumer too', async (t) => {
  const log = logFixture(t);
  const consumer = log.open(noPolling);
  const producer = log.open(noPolling);
  const topic = fresh('notify-remote');
  const received: ReceivedMessage[] = [];
  await consumer.subscribe(topic, (m) => {
    received.push(m);
    return Promise.resolve();
  }, { group: fresh('g') });
  await waitFor(async () => (await listenerPids(log)).length === 1, 30_000, () => 'the listener');
  const latency = await deliveryLatency(() => producer.publish(topic, [message(1)]), received);
  t.diagnostic(`latency ${latency} ms`);
});

test('the listener reconnects after its connection is terminated, and NOTIFY works again', async (t) => {
  const log = logFixture(t);
  const transport = log.open(noPolling);
  const topic = fresh('relisten');
  const received: ReceivedMessage[] = [];
  await transport.subscribe(topic, (m) => {
    received.push(m);
    return Promise.resolve();
  }, { group: fresh('g') });
  await waitFor(async () => (await listenerPids(log)).length === 1, 30_000, () => 'the listener');
  const [original] = await listenerPids(log);

  await log.admin.query('SELECT pg_terminate_backend($1)', [original]);
  await waitFor(
    async () => {
      const pids = await listenerPids(log);
      return pids.length === 1 && pids[0] !== original;
    },
    30_000,
    () => 'a new LISTEN connection',
  );
  const latency = await deliveryLatency(() => transport.publish(topic, [message(1)]), received);
  t.diagnostic(`latency ${latency} ms`);
  assert.ok(log.errors.some(({ source }) => source === 'listener'), 'the dropped connection was reported');
});

test('a PostgreSQL outage does not crash the process; publishing and delivery resume after it', async (t) => {
  const log = logFixture(t);
  const proxy = await startTcpProxy(postgresDsn());
  t.after(() => proxy.close());
  const transport = log.open({ ...noPolling, leaseTtlMs: 3_000 }, proxy.dsn);
  const topic = fresh('outage');
  const received: ReceivedMessage[] = [];
  await transport.subscribe(topic, (m) => {
    received.push(m);
    return Promise.resolve();
  }, { group: fresh('g') });
  await transport.publish(topic, [message(0)]);
  await waitFor(() => received.length === 1, 30_000, () => 'delivery before the outage');

  proxy.cut(); // every connection, idle, busy or listening, is reset, and new ones are refused
  await assert.rejects(transport.publish(topic, [message(-1)]), (error: { code?: string; retryable?: boolean }) => {
    assert.equal(error.code, 'KITSUNE_PUBLISH_FAILED');
    assert.equal(error.retryable, true, 'a connection failure is worth retrying');
    return true;
  });
  await waitFor(() => log.errors.some(({ source }) => source === 'pool' || source === 'listener'), 60_000, () => 'the outage to be noticed');
  proxy.restore();

  // As a caller would: retry the retryable failure, until the pool reconnects.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await transport.publish(topic, [message(1)]);
      break;
    } catch (error) {
      if (Date.now() > deadline || (error as { retryable?: boolean }).retryable !== true) throw error;
      await sleep(100);
    }
  }
  await waitFor(() => received.some((m) => seqOf(m) === 1), 60_000, () => 'delivery after the outage (NOTIFY again)');
  assert.ok(log.errors.some(({ source }) => source === 'pool' || source === 'listener'), 'connection errors were reported');
});
