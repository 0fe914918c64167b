import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffCeilingMs, backoffMs, wait } from '../src/backoff.ts';

test('full jitter stays under a ceiling that doubles per failed try and stops at maxMs', () => {
  const policy = { baseMs: 100, maxMs: 1_000 };
  assert.equal(backoffMs(1, { ...policy, random: () => 0.999 }), 99);
  assert.equal(backoffMs(3, { ...policy, random: () => 0.999 }), 399);
  assert.equal(backoffMs(10, { ...policy, random: () => 0.999 }), 999);
  assert.equal(backoffMs(4, { ...policy, random: () => 0 }), 0);
  assert.deepEqual([1, 2, 3, 4, 5].map((attempt) => backoffCeilingMs(attempt, policy)), [100, 200, 400, 800, 1_000]);
});

test('a long outage cannot overflow the exponent', () => {
  assert.equal(backoffCeilingMs(10_000, { baseMs: 1, maxMs: 5_000 }), 5_000);
  assert.equal(backoffCeilingMs(0, { baseMs: 100, maxMs: 5_000 }), 100, 'attempt 0 is read as the first');
});

test('wait resolves at once when its signal aborts, and never rejects', async () => {
  const abort = new AbortController();
  const waiting = wait(60_000, abort.signal);
  abort.abort();
  await waiting;
  await wait(60_000, abort.signal);
});
