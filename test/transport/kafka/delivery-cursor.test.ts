import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeliveryCursor } from '../../../src/transport/kafka/delivery-cursor.ts';

const verdicts = (cursor: DeliveryCursor, offsets: number[]): string[] => offsets.map((offset) => cursor.check(BigInt(offset)));

test('records are delivered in a row; older ones are dropped as already delivered', () => {
  const cursor = new DeliveryCursor(5n);
  assert.deepEqual(verdicts(cursor, [3, 4, 5, 6, 6, 7]), ['behind', 'behind', 'deliver', 'deliver', 'behind', 'deliver']);
  assert.equal(cursor.next, 8n);
});

test('a response that starts past the expected offset is refetched, however many times a stale position comes back', () => {
  const cursor = new DeliveryCursor(10n);
  // A stale response (40..42), another one further on (60), then the refetch from 10.
  assert.deepEqual(verdicts(cursor, [40, 41, 42, 60, 61, 10, 11]), ['ahead', 'ahead', 'ahead', 'ahead', 'ahead', 'deliver', 'deliver']);
  assert.equal(cursor.next, 12n);
});

test('a hole the broker answers three times in a row with the same first record is gone over', () => {
  const cursor = new DeliveryCursor(10n);
  // Offsets 10 and 11 are transaction markers: every fetch from 10 starts at 12.
  assert.deepEqual(verdicts(cursor, [12, 13, 14]), ['ahead', 'ahead', 'ahead']);
  assert.deepEqual(verdicts(cursor, [12, 13]), ['ahead', 'ahead']);
  assert.deepEqual(verdicts(cursor, [12, 13, 14]), ['deliver-after-hole', 'deliver', 'deliver']);
  assert.equal(cursor.next, 15n);
});

test('an answer that starts lower starts the count again: only identical answers confirm a hole', () => {
  const cursor = new DeliveryCursor(10n);
  // A stale response starting at 12, then fetches from 10 that start at 11 (10 is a marker).
  assert.deepEqual(verdicts(cursor, [12, 11, 12, 11]), ['ahead', 'ahead', 'ahead', 'ahead']);
  assert.equal(cursor.check(11n), 'deliver-after-hole');
  assert.equal(cursor.next, 12n);
});
