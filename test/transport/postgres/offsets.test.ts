import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { partitionForKey } from '../../../src/transport/partitioner.ts';
import { loadQueries } from '../../../src/transport/postgres/sql.ts';
import { appendInTransaction } from '../../../src/transport/postgres/writer.ts';
import { resolveSettings } from '../../../src/transport/postgres/options.ts';
import type { ReceivedMessage } from '../../../src/transport/types.ts';
import { fresh, logFixture, message, seqOf, waitFor } from './helpers.ts';

test('offsets are dense and in order per partition under concurrent publishers', async (t) => {
  const log = logFixture(t);
  const publishers = [log.open(), log.open(), log.open(), log.open()];
  const topic = fresh('dense');
  await publishers[0]!.ensureTopics([{ name: topic, partitions: 3 }]);
  // 4 transports × 10 concurrent calls × 25 messages, keyed and unkeyed.
  const calls = publishers.flatMap((publisher, p) =>
    Array.from({ length: 10 }, (_, c) =>
      publisher.publish(
        topic,
        Array.from({ length: 25 }, (_, i) => message(p * 10_000 + c * 100 + i, i % 4 === 0 ? undefined : `k${(p + c + i) % 7}`)),
      ),
    ),
  );
  await Promise.all(calls);

  const { rows } = await log.admin.query<{ partition: number; count: string; min: string; max: string; next_offset: string }>(
    `SELECT m.partition, count(*) AS count, min(m."offset") AS min, max(m."offset") AS max, p.next_offset
     FROM ${log.table('messages')} m JOIN ${log.table('partitions')} p USING (topic, partition)
     WHERE m.topic = $1 GROUP BY m.partition, p.next_offset ORDER BY m.partition`,
    [topic],
  );
  assert.equal(rows.reduce((sum, row) => sum + Number(row.count), 0), 1000);
  for (const row of rows) {
    assert.equal(row.min, '0', `partition ${row.partition} starts at 0`);
    assert.equal(Number(row.max), Number(row.count) - 1, `partition ${row.partition} has no gaps`);
    assert.equal(row.next_offset, row.count, `partition ${row.partition}'s counter is one past the last offset`);
  }

  const received: ReceivedMessage[] = [];
  await log.open().subscribe(topic, (m) => {
    received.push(m);
    return Promise.resolve();
  }, { group: fresh('g'), maxBatchSize: 64 });
  await waitFor(() => received.length === 1000, 20_000, () => `${received.length}/1000`);
  for (let partition = 0; partition < 3; partition++) {
    const offsets = received.filter((m) => m.partition === partition).map((m) => Number(m.offset));
    assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${partition} is delivered 0, 1, 2, ... in order`);
  }
  // Within one publish call, same-key messages keep their order (seq grows with the index).
  const lastByCallAndKey = new Map<string, number>();
  for (const m of received) {
    if (m.key === undefined) continue;
    const call = `${Math.floor(seqOf(m) / 100)}/${m.key}`;
    assert.ok(seqOf(m) > (lastByCallAndKey.get(call) ?? -1), `key ${m.key} in call ${call} out of order`);
    lastByCallAndKey.set(call, seqOf(m));
  }
});

test('a publisher that commits late does not make a consumer skip its message', async (t) => {
  const log = logFixture(t);
  const transport = log.open({ pollIntervalMs: 50 });
  const topic = fresh('late');
  await transport.ensureTopics([{ name: topic, partitions: 2 }]);
  const received: ReceivedMessage[] = [];
  await transport.subscribe(topic, (m) => {
    received.push(m);
    return Promise.resolve();
  }, { group: fresh('g') });

  // A slow writer: appends to partition 0 in a transaction it keeps open.
  const settings = resolveSettings({ connectionString: 'unused', schema: log.schema });
  const context = { pool: log.admin, sql: loadQueries(log.schema), settings, channel: log.schema, report: () => undefined };
  const slow = await log.admin.connect();
  let fast: Promise<void> | undefined;
  try {
    await slow.query('BEGIN');
    await appendInTransaction(slow, context, [
      { topic, partition: 0, id: randomUUID(), key: null, value: Buffer.from('slow'), headers: JSON.stringify({ seq: '0' }) },
    ]);

    // A fast writer to the same partition would, with a sequence, take offset 1 and become
    // visible first; here it queues behind the slow writer's lock on the partition's counter.
    const keyOn = (partition: number): string =>
      Array.from({ length: 100 }, (_, i) => `k${i}`).find((key) => partitionForKey(key, 2) === partition)!;
    fast = transport.publish(topic, [message(1, keyOn(0))]);
    // A writer to another partition is not held up.
    await transport.publish(topic, [message(100, keyOn(1))]);
    await waitFor(() => received.some((m) => m.partition === 1), 30_000, () => 'the other partition to be delivered');
    await sleep(300);
    assert.deepEqual(received.filter((m) => m.partition === 0), [], 'nothing on partition 0 is visible before the slow writer commits');
    await slow.query('COMMIT');
  } finally {
    slow.release();
  }
  await fast;
  await waitFor(() => received.filter((m) => m.partition === 0).length === 2, 30_000, () => `${received.length} received`);
  const partition0 = received.filter((m) => m.partition === 0);
  assert.deepEqual(partition0.map(seqOf), [0, 1], 'the slow message is delivered, and first');
  assert.deepEqual(partition0.map((m) => m.offset), [0n, 1n]);
});

test('keyed messages go to the murmur2 partition and unkeyed ones round robin', async (t) => {
  const log = logFixture(t);
  const transport = log.open();
  const topic = fresh('placement');
  await transport.ensureTopics([{ name: topic, partitions: 6 }]);
  const keys = Array.from({ length: 30 }, (_, i) => `entity-${i}`);
  await transport.publish(topic, keys.map((key, i) => message(i, key)));
  await transport.publish(topic, Array.from({ length: 12 }, (_, i) => message(100 + i)));
  const { rows } = await log.admin.query<{ partition: number; key: string | null }>(
    `SELECT partition, key FROM ${log.table('messages')} WHERE topic = $1`,
    [topic],
  );
  for (const row of rows.filter((r) => r.key !== null)) assert.equal(row.partition, partitionForKey(row.key!, 6), row.key!);
  const unkeyed = rows.filter((r) => r.key === null);
  for (let p = 0; p < 6; p++) assert.equal(unkeyed.filter((r) => r.partition === p).length, 2, `partition ${p} got 2 of 12`);
});

test('publish creates an unknown topic with partitionsDefault partitions', async (t) => {
  const log = logFixture(t);
  const transport = log.open({ partitionsDefault: 3 });
  const topic = fresh('implicit');
  await transport.publish(topic, [message(1)]);
  const { rows } = await log.admin.query<{ partitions: number }>(`SELECT partitions FROM ${log.table('topics')} WHERE name = $1`, [topic]);
  assert.equal(rows[0]?.partitions, 3);
});

test('a message PostgreSQL cannot store is rejected with its field, and nothing is written', async (t) => {
  const log = logFixture(t);
  const transport = log.open();
  const topic = fresh('invalid');
  await transport.ensureTopics([{ name: topic, partitions: 1 }]);
  await assert.rejects(
    transport.publish(topic, [message(1, 'fine'), { id: 'x', value: Buffer.from('v'), headers: { bad: 'a\u0000b' } }]),
    (error: { code?: string; retryable?: boolean; message: string }) => {
      assert.equal(error.code, 'KITSUNE_INVALID_MESSAGE');
      assert.equal(error.retryable, false);
      assert.match(error.message, /message 1: header bad/);
      return true;
    },
  );
  const { rows } = await log.admin.query(`SELECT 1 FROM ${log.table('messages')}`);
  assert.equal(rows.length, 0);
});
