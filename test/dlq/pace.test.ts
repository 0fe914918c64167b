import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paced, type PaceClock } from '../../src/dlq/pace.ts';

/** A clock that only moves when the code under test sleeps, so rates are exact and instant to test. */
function virtualClock(): PaceClock & { sends: Array<{ at: number; size: number }> } {
  let now = 1_000;
  return {
    sends: [],
    now: () => now,
    sleep: (ms) => {
      now += ms;
      return Promise.resolve();
    },
  };
}

test('paced sends 25 items at 10/s one at a time, the last 2.4 s after the first', async () => {
  const clock = virtualClock();
  await paced(Array.from({ length: 25 }, (_, i) => i), 10, (chunk) => Promise.resolve(void clock.sends.push({ at: clock.now(), size: chunk.length })), clock);
  assert.equal(clock.sends.length, 25);
  assert.ok(clock.sends.every((s) => s.size === 1));
  assert.equal(clock.sends.at(-1)!.at - clock.sends[0]!.at, 2_400);
});

test('paced at 100/s sends chunks of 10 every 100 ms, so no second sees more than the rate', async () => {
  const clock = virtualClock();
  await paced(Array.from({ length: 250 }, (_, i) => i), 100, (chunk) => Promise.resolve(void clock.sends.push({ at: clock.now(), size: chunk.length })), clock);
  assert.equal(clock.sends.length, 25);
  assert.ok(clock.sends.every((s) => s.size === 10));
  const start = clock.sends[0]!.at;
  for (let second = 0; second < 3; second++) {
    const inWindow = clock.sends.filter((s) => s.at >= start + second * 1_000 && s.at < start + (second + 1) * 1_000).reduce((n, s) => n + s.size, 0);
    assert.ok(inWindow <= 100, `second ${second}: ${inWindow} items`);
  }
});

test('a slow send earns no burst afterwards: each chunk still waits its share after the one before', async () => {
  const clock = virtualClock();
  let first = true;
  await paced([1, 2, 3], 10, async (chunk) => {
    clock.sends.push({ at: clock.now(), size: chunk.length });
    if (first) await clock.sleep(500);
    first = false;
  }, clock);
  assert.deepEqual(clock.sends.map((s) => s.at - 1_000), [0, 500, 600]);
});

test('a rate that is not positive is refused', async () => {
  await assert.rejects(paced([1], 0, () => Promise.resolve()), RangeError);
});
