import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { background } from '../support/background.ts';
import { FaultKinds } from '../support/loki/index.ts';
import { LokiFaults } from '../support/loki/faults.ts';
import { nowNs, push, queryRange, startLoki, stream } from './helpers.ts';
import type { JsonStream } from './helpers.ts';

function batch(line: string): JsonStream[] {
  return [stream({ service: 'kitsune' }, [nowNs(), line])];
}

test('a 429 fault answers every push inside its window with Retry-After', async (t) => {
  const loki = await startLoki(t);
  // A window far longer than two loopback pushes on any machine: both land inside it.
  loki.faults.push({ kind: FaultKinds.STATUS, status: 429, retryAfterSeconds: 2, forMs: 600_000 });

  const during = [await push(loki, batch('one')), await push(loki, batch('two'))];

  for (const answer of during) {
    assert.equal(answer.status, 429);
    assert.equal(answer.headers.get('retry-after'), '2');
  }
  assert.deepEqual(loki.entries(), []);
  assert.equal(loki.stats().faultsApplied, 2);
  assert.equal(loki.faults.pending, 1, 'the window is still open');
});

test('a fault window ends forMs after the first push it answered, and pushes are stored again', async (t) => {
  const loki = await startLoki(t);
  const forMs = 200;
  loki.faults.push({ kind: FaultKinds.STATUS, status: 429, retryAfterSeconds: 1, forMs });

  const first = await push(loki, batch('one'));
  const firstAnsweredAt = Date.now();
  // The window started when the push arrived, before it was answered: it has surely ended by now.
  await sleep(Math.max(0, firstAnsweredAt + forMs - Date.now()) + 10);
  const after = await push(loki, batch('three'));

  assert.equal(first.status, 429);
  assert.equal(after.status, 204);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['three'],
  );
  assert.equal(loki.stats().faultsApplied, 1);
  assert.equal(loki.faults.pending, 0);
});

test('the fault queue measures a window on the clock it is given, not on the wall clock', () => {
  const faults = new LokiFaults();
  faults.push({ kind: FaultKinds.STATUS, status: 429, forMs: 1_000 }, { kind: FaultKinds.STATUS, status: 500, count: 1 });
  assert.equal(faults.take(5_000)?.kind, 'answer', 'the first push opens the window');
  assert.equal(faults.take(5_999)?.kind, 'answer');
  const next = faults.take(6_000);
  assert.ok(next?.kind === 'answer' && next.status === 500, 'at forMs the window is over and the next fault answers');
  assert.equal(faults.take(6_001), undefined);
  assert.equal(faults.applied, 3);
});

test('a 500 fault with count 3 answers the next three pushes and then lets them through', async (t) => {
  const loki = await startLoki(t);
  loki.faults.push({ kind: FaultKinds.STATUS, status: 500, count: 3 });

  const statuses: number[] = [];
  for (const line of ['a', 'b', 'c', 'd']) statuses.push((await push(loki, batch(line))).status);

  assert.deepEqual(statuses, [500, 500, 500, 204]);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['d'],
  );
  const stats = loki.stats();
  assert.equal(stats.pushesReceived, 4);
  assert.equal(stats.responses.get(500), 3);
});

test('a hung push gets no answer until the client gives up, and pushes after the fault succeed', async (t) => {
  const loki = await startLoki(t);
  // One push long, with no time limit: the fault ends with the push it hangs, not with a clock.
  loki.faults.push({ kind: FaultKinds.HANG });

  const giveUp = new AbortController();
  const hung = background(push(loki, batch('hung'), { signal: giveUp.signal }));
  // The client gives up only once the server holds its push: a push aborted before it arrived
  // would leave the fault to the next one.
  while (loki.stats().pushesReceived < 1) await sleep(10);
  assert.equal(loki.faults.applied, 1, 'the hang answered the first push');
  giveUp.abort();
  await assert.rejects(hung, { name: 'AbortError' });
  const after = await push(loki, batch('after'));

  assert.equal(after.status, 204);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['after'],
  );
  assert.equal(loki.stats().pushesReceived, 2);
});

test('a hung push whose client is still waiting when the fault ends is then answered and stored', async (t) => {
  const loki = await startLoki(t);
  loki.faults.push({ kind: FaultKinds.HANG, forMs: 200 });
  const started = Date.now();

  const answer = await push(loki, batch('late but stored'));

  assert.ok(Date.now() - started >= 190, 'the push was held for the fault window');
  assert.equal(answer.status, 204);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['late but stored'],
  );
});

test('a scripted 400 rejects the next N pushes with its body and stores nothing of them', async (t) => {
  const loki = await startLoki(t);
  const body = 'entry with timestamp 2024-01-01 00:00:00 +0000 UTC ignored, reason: scripted';
  loki.faults.push({ kind: FaultKinds.REJECT, status: 400, body, count: 2 });

  const answers = [await push(loki, batch('a')), await push(loki, batch('b')), await push(loki, batch('c'))];

  assert.deepEqual(
    answers.map((answer) => answer.status),
    [400, 400, 204],
  );
  assert.equal(answers[0]?.text, `${body}\n`);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['c'],
  );
});

test('faults are consumed in order, each for its own span', async (t) => {
  const loki = await startLoki(t);
  loki.faults.push(
    { kind: FaultKinds.STATUS, status: 503 },
    { kind: FaultKinds.STATUS, status: 429, count: 2 },
    { kind: FaultKinds.REJECT, body: 'bad batch' },
  );

  const statuses: number[] = [];
  for (const line of ['a', 'b', 'c', 'd', 'e']) statuses.push((await push(loki, batch(line))).status);

  assert.deepEqual(statuses, [503, 429, 429, 400, 204]);
});

test('queries and readiness are never faulted', async (t) => {
  const loki = await startLoki(t);
  loki.faults.push({ kind: FaultKinds.STATUS, status: 500 });

  const query = await queryRange(loki, '{service="kitsune"}');
  const ready = await fetch(`${loki.url}/ready`);

  assert.equal(query.status, 200);
  assert.equal(ready.status, 200);
  assert.equal(loki.faults.pending, 1);
});

test('close() drops a push hung without end instead of waiting for it', async (t) => {
  const loki = await startLoki(t);
  loki.faults.push({ kind: FaultKinds.HANG });
  const hung = background(push(loki, batch('never answered')));
  while (loki.stats().pushesReceived === 0) await sleep(10);

  await loki.close();
  await loki.close();

  await assert.rejects(hung);
});

test('reset() forgets data, stats and faults', async (t) => {
  const loki = await startLoki(t);
  await push(loki, batch('before'));
  loki.faults.push({ kind: FaultKinds.STATUS, status: 500, count: 5 });

  loki.reset();
  const answer = await push(loki, batch('after'));

  assert.equal(answer.status, 204);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['after'],
  );
  assert.equal(loki.stats().pushesReceived, 1);
});

test('a fault that cannot happen is refused when queued', async (t) => {
  const loki = await startLoki(t);

  assert.throws(() => loki.faults.push({ kind: FaultKinds.REJECT, status: 503 }), RangeError);
  assert.throws(() => loki.faults.push({ kind: FaultKinds.STATUS, status: 429, count: 0 }), RangeError);
  assert.equal(loki.faults.pending, 0);
});

test('measureAcceptRate pushes the requested lines through the server and reports the rate', async (t) => {
  const loki = await startLoki(t, { limits: { ingestionRateMb: 0, perStreamRateLimit: 0 } });

  const rate = await loki.measureAcceptRate({ lines: 5000, batchSize: 500 });

  assert.equal(rate.lines, 5000);
  assert.equal(rate.pushes, 10);
  assert.ok(rate.linesPerSecond > 0);
  assert.equal(loki.stats().acceptedEntries, 5000);
  assert.deepEqual(loki.entries(), [], 'the benchmark tenant is dropped afterwards');
});
