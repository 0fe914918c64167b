import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OffsetCommits } from '../../../src/transport/kafka/offset-commits.ts';

/** A send that records each request and finishes only when released. */
function recordingSend() {
  const requests: Array<Record<number, bigint>> = [];
  const releases: Array<(error?: Error) => void> = [];
  const send = (offsets: ReadonlyMap<number, bigint>): Promise<void> => {
    requests.push(Object.fromEntries(offsets));
    return new Promise((resolve, reject) => releases.push((error) => (error ? reject(error) : resolve())));
  };
  const tick = (): Promise<void> => new Promise((resolveTick) => setImmediate(resolveTick));
  return { requests, releases, send, tick };
}

test('partitions that commit together share one request, and later offsets wait for the next', async () => {
  const { requests, releases, send, tick } = recordingSend();
  const commits = new OffsetCommits(send);
  const first = [commits.commit(0, 10n), commits.commit(1, 20n)];
  await tick();
  assert.deepEqual(requests, [{ 0: 10n, 1: 20n }]);

  const second = [commits.commit(0, 15n), commits.commit(2, 5n), commits.commit(0, 12n)];
  await tick();
  assert.equal(requests.length, 1, 'nothing is sent while a request is in flight');
  releases[0]!();
  await Promise.all(first);
  await tick();
  assert.deepEqual(requests[1], { 0: 15n, 2: 5n }, 'the newest offset of a partition wins');
  releases[1]!();
  await Promise.all(second);

  const third = commits.commit(3, 1n);
  await tick();
  assert.deepEqual(requests[2], { 3: 1n }, 'a commit after an idle period starts a new request');
  releases[2]!();
  await third;
});

test('a failed request rejects every commit it carried; the next commit is sent again', async () => {
  const { requests, releases, send, tick } = recordingSend();
  const commits = new OffsetCommits(send);
  const failed = [commits.commit(0, 1n), commits.commit(1, 1n)];
  await tick();
  releases[0]!(new Error('coordinator moved'));
  for (const outcome of await Promise.allSettled(failed)) {
    assert.equal(outcome.status, 'rejected');
    assert.match(String((outcome).reason), /coordinator moved/);
  }
  const retried = commits.commit(0, 2n);
  await tick();
  assert.deepEqual(requests[1], { 0: 2n });
  releases[1]!();
  await retried;
});
