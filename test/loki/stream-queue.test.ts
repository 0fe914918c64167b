import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamQueue, Submission } from '../../src/loki/stream-queue.ts';
import type { LokiEntry } from '../../src/loki/types.ts';

const entry = (ts: number, line: string): LokiEntry => ({ ts: BigInt(ts), line, metadata: {} });

function queueOf(entries: readonly LokiEntry[]): StreamQueue {
  const queue = new StreamQueue({ service: 'kitsune' });
  const submission = new Submission(entries.length);
  entries.forEach((item, index) => queue.add(item, submission, index));
  return queue;
}

test('take() hands entries over in timestamp order, keeping arrival order among equal timestamps', () => {
  const arrived = [entry(3, 'c'), entry(1, 'a1'), entry(2, 'b'), entry(1, 'a2'), entry(3, 'd')];
  const taken = queueOf(arrived).take(1_000_000);
  assert.deepEqual(
    taken.map((pending) => pending.entry.line),
    ['a1', 'a2', 'b', 'c', 'd'],
  );
  assert.deepEqual(
    taken.map((pending) => pending.index),
    [1, 3, 2, 0, 4],
    'each entry keeps its position in its submission',
  );
});

test('take() of entries already in order returns them as they arrived, equal timestamps included', () => {
  const arrived = [entry(1, 'a'), entry(1, 'b'), entry(2, 'c'), entry(5, 'd')];
  assert.deepEqual(
    queueOf(arrived)
      .take(1_000_000)
      .map((pending) => pending.entry.line),
    ['a', 'b', 'c', 'd'],
  );
});

test('take() stops at the byte budget but always takes one entry, and the rest stays queued in order', () => {
  const queue = queueOf([entry(2, 'xxxx'), entry(1, 'yyyy'), entry(3, 'zzzz')]);
  assert.deepEqual(
    queue.take(1).map((pending) => pending.entry.line),
    ['xxxx'],
  );
  assert.equal(queue.size, 2);
  assert.deepEqual(
    queue.take(8).map((pending) => pending.entry.line),
    ['yyyy', 'zzzz'],
  );
  assert.equal(queue.bytes, 0);
});
