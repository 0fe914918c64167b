import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReceivedMessage } from '../../../src/transport/types.ts';
import { fresh, logFixture, message, seqOf, waitFor, type LogFixture } from './helpers.ts';

const hourMs = 60 * 60 * 1_000;

async function offsetsLeft(log: LogFixture, topic: string): Promise<number[]> {
  const { rows } = await log.admin.query<{ offset: string }>(
    `SELECT "offset" FROM ${log.table('messages')} WHERE topic = $1 ORDER BY "offset"`,
    [topic],
  );
  return rows.map((row) => Number(row.offset));
}

/** Makes the messages below `offset` two hours old. */
async function age(log: LogFixture, topic: string, below: number): Promise<void> {
  await log.admin.query(
    `UPDATE ${log.table('messages')} SET created_at = created_at - interval '2 hours' WHERE topic = $1 AND "offset" < $2`,
    [topic, below],
  );
}

/** 15 messages on one partition; a group consumes and commits the first 10. */
async function consumedTen(log: LogFixture, options: Parameters<LogFixture['open']>[0]): Promise<{ topic: string; transport: ReturnType<LogFixture['open']> }> {
  const transport = log.open(options);
  const topic = fresh('retention');
  await transport.ensureTopics([{ name: topic, partitions: 1 }]);
  await transport.publish(topic, Array.from({ length: 10 }, (_, i) => message(i)));
  const group = fresh('g');
  const received: ReceivedMessage[] = [];
  const subscription = await transport.subscribe(topic, (m) => {
    received.push(m);
    return Promise.resolve();
  }, { group });
  await waitFor(() => received.length === 10, 30_000, () => `${received.length}/10`);
  await subscription.close(); // commits 10
  await transport.publish(topic, Array.from({ length: 5 }, (_, i) => message(10 + i)));
  return { topic, transport };
}

test('retention deletes old messages every group has consumed, and keeps the rest', async (t) => {
  const log = logFixture(t);
  const { topic, transport } = await consumedTen(log, { retention: { maxAgeMs: hourMs } });
  await age(log, topic, 12); // 0..11 are old; 10 and 11 are not consumed yet

  const deleted = await transport.deleteExpiredMessages();
  assert.equal(deleted, 10);
  assert.deepEqual(await offsetsLeft(log, topic), [10, 11, 12, 13, 14]);
  assert.equal(await transport.deleteExpiredMessages(), 0, 'a second sweep finds nothing more');
});

test('with onlyConsumed false, retention deletes by age alone', async (t) => {
  const log = logFixture(t);
  const { topic, transport } = await consumedTen(log, { retention: { maxAgeMs: hourMs, onlyConsumed: false } });
  await age(log, topic, 12);
  assert.equal(await transport.deleteExpiredMessages(), 12);
  assert.deepEqual(await offsetsLeft(log, topic), [12, 13, 14]);
});

test('retention deletes in bounded batches until done', async (t) => {
  const log = logFixture(t);
  const { topic, transport } = await consumedTen(log, { retention: { maxAgeMs: hourMs, onlyConsumed: false, batchSize: 4 } });
  await age(log, topic, 15);
  assert.equal(await transport.deleteExpiredMessages(), 15);
  assert.deepEqual(await offsetsLeft(log, topic), []);
});

test('retention runs on its own timer', async (t) => {
  const log = logFixture(t);
  const { topic } = await consumedTen(log, { retention: { maxAgeMs: hourMs, intervalMs: 100 } });
  await age(log, topic, 15);
  await waitFor(async () => (await offsetsLeft(log, topic)).length === 5, 30_000, () => 'the timer to sweep');
});

test('after retention, offsets keep counting and a new group starts at the oldest message left', async (t) => {
  const log = logFixture(t);
  const { topic, transport } = await consumedTen(log, { retention: { maxAgeMs: hourMs, onlyConsumed: false } });
  await age(log, topic, 12);
  await transport.deleteExpiredMessages();
  await transport.publish(topic, [message(15)]);
  const received: ReceivedMessage[] = [];
  await transport.subscribe(topic, (m) => {
    received.push(m);
    return Promise.resolve();
  }, { group: fresh('late-group') });
  await waitFor(() => received.length === 4, 30_000, () => `${received.length}/4`);
  assert.deepEqual(received.map((m) => m.offset), [12n, 13n, 14n, 15n]);
  assert.deepEqual(received.map(seqOf), [12, 13, 14, 15]);
});
