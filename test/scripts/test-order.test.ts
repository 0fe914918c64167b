import assert from 'node:assert/strict';
import { test } from 'node:test';
import { longestFirst } from '../../scripts/test-order.ts';

test('files start longest first, ties and unrecorded runs by name', () => {
  const seconds = { 'b.test.ts': 5, 'a.test.ts': 5, 'slow.test.ts': 170, 'quick.test.ts': 0.4 };
  assert.deepEqual(longestFirst(['quick.test.ts', 'a.test.ts', 'slow.test.ts', 'b.test.ts'], seconds), ['slow.test.ts', 'a.test.ts', 'b.test.ts', 'quick.test.ts']);
  assert.deepEqual(longestFirst(['c.test.ts', 'a.test.ts', 'b.test.ts'], {}), ['a.test.ts', 'b.test.ts', 'c.test.ts']);
});

test('a file the record does not know is placed as if it took the median: after the slow, before the quick', () => {
  const seconds = { 'slow.test.ts': 100, 'mid.test.ts': 10, 'quick.test.ts': 1 };
  assert.deepEqual(longestFirst(['quick.test.ts', 'new.test.ts', 'mid.test.ts', 'slow.test.ts'], seconds), ['slow.test.ts', 'mid.test.ts', 'new.test.ts', 'quick.test.ts']);
  assert.deepEqual(longestFirst(['zz-new.test.ts', 'quick.test.ts', 'slow.test.ts'], { 'slow.test.ts': 100, 'quick.test.ts': 1 }), ['slow.test.ts', 'zz-new.test.ts', 'quick.test.ts']);
});
