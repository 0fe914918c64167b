import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { LokiBatcher, LokiClient, LokiFailures, type LokiBatcherOptions, type PushInfo, type PushRetryInfo, type StreamEntry } from '../../src/loki/index.ts';
import { isRetryable } from '../../src/errors.ts';
import { background } from '../support/background.ts';
import { FaultKinds, startLokiServer, type LokiServerOptions, type LokiTestServer } from '../support/loki/index.ts';

/** Polls `condition` until it holds (the test's timeout bounds the wait). */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(10);
}

async function startLoki(t: TestContext, options: LokiServerOptions = {}): Promise<LokiTestServer> {
  const loki = await startLokiServer(options);
  t.after(() => loki.close());
  return loki;
}

/**
 * A batcher on `loki` that the test closes; fast backoff unless the test says otherwise. The push
 * timeout is generous by default: a loopback push that outlasts it on a loaded machine would be
 * retried and add a push the test did not plan. Tests about timeouts set their own.
 */
function batcherFor(t: TestContext, loki: LokiTestServer, options: Partial<LokiBatcherOptions> & { timeoutMs?: number } = {}): LokiBatcher {
  const { timeoutMs, ...rest } = options;
  const batcher = new LokiBatcher({
    pusher: new LokiClient({ url: loki.url, timeoutMs: timeoutMs ?? 60_000 }),
    batchWaitMs: 50,
    backoff: { baseMs: 10, maxMs: 50 },
    ...rest,
  });
  t.after(() => batcher.close());
  return batcher;
}

const baseNs = BigInt(Date.now()) * 1_000_000n;
const stream = (command: string): Record<string, string> => ({ service: 'kitsune', level: 'INFO', command, source: 'test' });
const entry = (command: string, i: number, line = `line ${i}`, ts = baseNs + BigInt(i)): StreamEntry => ({
  labels: stream(command),
  entry: { ts, line, metadata: { event_id: `${command}-${i}` } },
});

test('entries submitted apart are pushed together once the batch wait ends', async (t) => {
  const loki = await startLoki(t);
  const batcher = batcherFor(t, loki, { batchWaitMs: 300 });
  const started = Date.now();
  const all = await Promise.all([batcher.submit([entry('a', 1)]), batcher.submit([entry('a', 2)]), batcher.submit([entry('a', 3)])]);
  assert.ok(Date.now() - started >= 250, 'nothing was pushed before the wait ended');
  assert.deepEqual(all.flat(), [{ accepted: true }, { accepted: true }, { accepted: true }]);
  assert.equal(loki.stats().pushesReceived, 1);
  assert.equal(loki.entries().length, 3);
});

test('a stream is pushed as soon as its pending entries reach batchBytes, and the remainder waits for the timer', async (t) => {
  const loki = await startLoki(t);
  // A batch wait no test run outlasts: the remainder can only go when flushed.
  const batcher = batcherFor(t, loki, { batchWaitMs: 600_000, batchBytes: 2_000 });
  // ~105 bytes an entry (line and metadata): 40 entries are two full batches and a remainder.
  const submitted = batcher.submit(Array.from({ length: 40 }, (_, i) => entry('a', i, `${'x'.repeat(90)} ${i}`)));
  await waitFor(() => loki.stats().acceptedEntries > 30);
  const stats = loki.stats();
  assert.equal(stats.pushesReceived, 2, 'the two full batches went at once');
  assert.ok(stats.acceptedEntries > 30 && stats.acceptedEntries < 40, `accepted ${stats.acceptedEntries}`);
  batcher.flush();
  const outcomes = await submitted;
  assert.equal(outcomes.length, 40);
  assert.ok(outcomes.every((outcome) => outcome.accepted));
  assert.equal(loki.stats().pushesReceived, 3);
});

test('flush() pushes what is pending without waiting for the batch timer', async (t) => {
  const loki = await startLoki(t);
  const batcher = batcherFor(t, loki, { batchWaitMs: 600_000 });
  const pending = batcher.submit([entry('a', 1), entry('b', 1)]);
  await sleep(50); // a window for a wrongly early push to show; a correct batcher waits ten minutes
  assert.equal(loki.stats().pushesReceived, 0);
  batcher.flush();
  assert.deepEqual(await pending, [{ accepted: true }, { accepted: true }]);
});

test('every push carries one stream, so Loki\'s answer is about every entry in it', async (t) => {
  const loki = await startLoki(t);
  const batcher = batcherFor(t, loki);
  await batcher.submit(['a', 'b', 'c'].flatMap((command) => [entry(command, 1), entry(command, 2)]));
  const stats = loki.stats();
  assert.equal(stats.pushesReceived, 3);
  assert.equal(stats.streams, 3);
  assert.equal(stats.acceptedEntries, 6);
});

test('an entry Loki refuses in one stream is reported even when another stream of the same batch is accepted', async (t) => {
  // Loki answers a multi-stream push with the LAST stream's ingester result: pushed together,
  // the out-of-order entry of stream a would be dropped behind a 204 for stream b.
  const loki = await startLoki(t, { limits: { unorderedWrites: false } });
  const batcher = batcherFor(t, loki);
  await batcher.submit([entry('a', 10)]);
  const outcomes = await batcher.submit([entry('a', 5, 'older than the newest of its stream'), entry('b', 5)]);
  assert.equal(outcomes[0]?.accepted, false);
  if (outcomes[0]?.accepted === false) {
    assert.equal((outcomes[0].error as { failure?: unknown }).failure, LokiFailures.rejected);
    assert.match(outcomes[0].error.message, /out of order/);
  }
  assert.deepEqual(outcomes[1], { accepted: true });
});

test('lines over Loki\'s size limit are reported with Loki\'s reason, and the rest of their batch is stored exactly once', async (t) => {
  const loki = await startLoki(t, { limits: { maxLineSize: 100 } });
  const batcher = batcherFor(t, loki);
  const items = Array.from({ length: 64 }, (_, i) => entry('a', i, i === 7 || i === 41 ? 'y'.repeat(150) : `line ${i}`));
  const outcomes = await batcher.submit(items);

  const refused = outcomes.flatMap((outcome, i) => (outcome.accepted ? [] : [{ i, error: outcome.error }]));
  assert.deepEqual(refused.map(({ i }) => i), [7, 41]);
  for (const { error } of refused) assert.match(error.message, /^Loki answered 400: Max entry size '100' bytes exceeded/);
  const lines = loki.entries().map((stored) => stored.line);
  assert.equal(lines.length, 62);
  assert.equal(new Set(lines).size, 62, 'no line stored twice');
  const stats = loki.stats();
  assert.ok(stats.duplicateEntries > 0, 'the good part of each refused push was sent again and dropped by Loki as identical');
  // Bisecting 64 entries to 2 bad ones costs a bounded number of pushes, not one per entry.
  assert.ok(stats.pushesReceived <= 1 + 2 * 2 * Math.log2(64), `pushes: ${stats.pushesReceived}`);
});

test('a 429 with Retry-After is not retried before Retry-After has passed', async (t) => {
  const loki = await startLoki(t);
  const pushes: Array<PushInfo & { at: number }> = [];
  const batcher = batcherFor(t, loki, { onPush: (info) => pushes.push({ ...info, at: Date.now() }) });
  loki.faults.push({ kind: FaultKinds.STATUS, status: 429, retryAfterSeconds: 1, count: 1 });
  assert.deepEqual(await batcher.submit([entry('a', 1)]), [{ accepted: true }]);
  assert.deepEqual(pushes.map((push) => push.outcome), [LokiFailures.rateLimited, 'accepted']);
  assert.ok(pushes[1]!.at - pushes[0]!.at >= 1_000, `retried after ${pushes[1]!.at - pushes[0]!.at} ms`);
});

test('500s, a hung push and a refused connection are retried until Loki accepts, and each entry is stored once', async (t) => {
  const loki = await startLoki(t);
  const retries: PushRetryInfo[] = [];
  // The hung push hangs for good, so only the client's timeout ends it; ordinary pushes have ample time.
  const batcher = batcherFor(t, loki, { timeoutMs: 3_000, onRetry: (info) => retries.push(info) });
  loki.faults.push({ kind: FaultKinds.STATUS, status: 500, count: 2 }, { kind: FaultKinds.HANG, count: 1 });
  const outcomes = await batcher.submit(Array.from({ length: 10 }, (_, i) => entry('a', i)));
  assert.ok(outcomes.every((outcome) => outcome.accepted));
  const failures = retries.map((retry) => retry.failure);
  assert.deepEqual(failures.slice(0, 2), [LokiFailures.serverError, LokiFailures.serverError]);
  // The hung push ends in a timeout; on a loaded machine an ordinary push may outlast 3 s as well,
  // which is one more timeout and still no duplicate.
  assert.ok(failures.length >= 3 && failures.slice(2).every((failure) => failure === LokiFailures.timeout), failures.join());
  assert.equal(loki.entries().length, 10);
});

test('a stream\'s entries reach Loki in submission order, even when earlier pushes are retried', async (t) => {
  const loki = await startLoki(t);
  // One entry per push, all with the same timestamp: Loki keeps them in arrival order.
  const batcher = batcherFor(t, loki, { batchBytes: 1 });
  loki.faults.push({ kind: FaultKinds.STATUS, status: 503, count: 3 });
  const lines = Array.from({ length: 12 }, (_, i) => `step ${i}`);
  const first = batcher.submit(lines.slice(0, 6).map((line, i) => entry('a', i, line, baseNs)));
  const second = batcher.submit(lines.slice(6).map((line, i) => entry('a', i + 6, line, baseNs)));
  await Promise.all([first, second]);
  assert.deepEqual(loki.entries().map((stored) => stored.line), lines);
});

test('close() rejects waiting submissions with a retryable error and stops retrying', { timeout: 60_000 }, async (t) => {
  const loki = await startLoki(t);
  // A 500, then a retry that hangs for good: close() finds the batcher inside its retry loop, and
  // every push it made was counted by the server before close() (a hung push is read first).
  const batcher = batcherFor(t, loki, { timeoutMs: 600_000 });
  loki.faults.push({ kind: FaultKinds.STATUS, status: 500, count: 1 }, { kind: FaultKinds.HANG, count: 100 });
  // close() rejects it while the test awaits close(): observed from here on.
  const submitted = background(batcher.submit([entry('a', 1)]));
  await waitFor(() => loki.stats().pushesReceived === 2);
  // Without close() cutting it short the submission would wait ten minutes: the test's timeout.
  await batcher.close();
  await assert.rejects(submitted, (error: unknown) => isRetryable(error));
  await assert.rejects(batcher.submit([entry('a', 2)]), (error: unknown) => isRetryable(error), 'a closed batcher takes nothing');
  await sleep(300); // a window for a retry after close() to show; the backoff here is at most 50 ms
  assert.equal(loki.stats().pushesReceived, 2, 'no retry after close()');
});
