import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reasons } from '../support/loki/index.ts';
import { hourNs, minuteNs, nowNs, push, startLoki, stream } from './helpers.ts';

const kitsune = { service: 'kitsune' };
const kitsuneKey = '{service="kitsune", service_name="kitsune"}';

test('a push with some invalid entries stores the valid ones and answers 400 naming the rejected ones', async (t) => {
  const loki = await startLoki(t, { limits: { maxLineSize: 8 } });
  const ts = nowNs();

  const answer = await push(loki, [stream(kitsune, [ts, 'ok 1'], [ts + 1n, 'much too long'], [ts + 2n, 'ok 2'])]);

  assert.equal(answer.status, 400);
  assert.equal(answer.text, `Max entry size '8' bytes exceeded for stream '${kitsuneKey}' while adding an entry with length '13' bytes\n`);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['ok 1', 'ok 2'],
  );
  assert.equal(loki.stats().acceptedEntries, 2);
});

test('several rejections are reported as Loki groups them: "N errors like: <message>" joined by "; "', async (t) => {
  const loki = await startLoki(t, { limits: { maxLineSize: 3 } });
  const ts = nowNs();
  const old = ts - 8n * 24n * hourNs;

  const answer = await push(loki, [stream(kitsune, [ts, 'four'], [ts + 1n, 'four'], [old, 'old'])]);

  assert.equal(answer.status, 400);
  const groups = answer.text.trimEnd().split('; ');
  assert.equal(groups.length, 2);
  assert.equal(groups[0], `2 errors like: Max entry size '3' bytes exceeded for stream '${kitsuneKey}' while adding an entry with length '4' bytes`);
  assert.match(groups[1] ?? '', /^1 errors like: entry for stream '.*' has timestamp too old: /);
  assert.deepEqual(loki.entries(), []);
});

test('an entry with the same stream, timestamp and line as a stored one is stored once and the push still succeeds', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();
  const batch = [stream(kitsune, [ts, 'created user 42', { event_id: 'e-42' }], [ts + 1n, 'created user 43'])];

  const first = await push(loki, batch);
  const retry = await push(loki, batch);
  const inBatch = await push(loki, [stream(kitsune, [ts + 2n, 'twice'], [ts + 2n, 'twice'])]);

  assert.equal(first.status, 204);
  assert.equal(retry.status, 204);
  assert.equal(inBatch.status, 204);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['created user 42', 'created user 43', 'twice'],
  );
  assert.equal(loki.stats().duplicateEntries, 3);
});

test('entries that share a timestamp but not a line, or a line but not a stream, are all stored', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();

  await push(loki, [stream(kitsune, [ts, 'a'], [ts, 'b']), stream({ service: 'other' }, [ts, 'a'])]);

  assert.equal(loki.entries().length, 3);
  assert.equal(loki.stats().duplicateEntries, 0);
});

test('out-of-order entries within max_chunk_age/2 of the stream\'s newest entry are accepted', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();

  const newest = await push(loki, [stream(kitsune, [ts, 'newest'])]);
  const older = await push(loki, [stream(kitsune, [ts - 59n * minuteNs, 'an hour late, nearly'], [ts - minuteNs, 'a minute late'])]);

  assert.equal(newest.status, 204);
  assert.equal(older.status, 204);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['an hour late, nearly', 'a minute late', 'newest'],
  );
});

test('an entry older than the newest minus max_chunk_age/2 is too_far_behind while the rest of the push is stored', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();
  await push(loki, [stream(kitsune, [ts, 'newest'])]);

  const answer = await push(loki, [stream(kitsune, [ts - 2n * hourNs, 'too late'], [ts - minuteNs, 'in time'])]);

  assert.equal(answer.status, 400);
  assert.match(
    answer.text,
    new RegExp(
      "^entry with timestamp \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(\\.\\d+)? \\+0000 UTC ignored, reason: 'entry too far behind, " +
        "entry timestamp is: .*Z, oldest acceptable timestamp is: .*Z',\\n" +
        `user 'fake', total ignored: 1 out of 2 for stream: \\{service="kitsune", service_name="kitsune"\\}\\n$`,
    ),
  );
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['in time', 'newest'],
  );
  assert.equal(loki.stats().rejectedEntries.get(Reasons.TOO_FAR_BEHIND), 1);
});

test('the out-of-order window follows the newest entry within the same push', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();

  const answer = await push(loki, [stream(kitsune, [ts - 3n * hourNs, 'first'], [ts, 'jumps ahead'], [ts - 2n * hourNs, 'now too late'])]);

  assert.equal(answer.status, 400);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['first', 'jumps ahead'],
  );
});

test('with unordered_writes off any entry older than the newest is out_of_order', async (t) => {
  const loki = await startLoki(t, { limits: { unorderedWrites: false } });
  const ts = nowNs();
  await push(loki, [stream(kitsune, [ts, 'newest'])]);

  const answer = await push(loki, [stream(kitsune, [ts - 1n, 'a nanosecond late'], [ts, 'same time is fine'])]);

  assert.equal(answer.status, 400);
  assert.match(answer.text, /reason: 'entry out of order',/);
  assert.equal(loki.stats().rejectedEntries.get(Reasons.OUT_OF_ORDER), 1);
  assert.equal(loki.entries().length, 2);
});

test('as in Loki, only the last stream\'s ingester error is answered: earlier streams\' rejections go unreported', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();
  await push(loki, [stream({ service: 'early' }, [ts, 'newest']), stream({ service: 'late' }, [ts, 'newest'])]);

  const earlyFails = await push(loki, [stream({ service: 'early' }, [ts - 2n * hourNs, 'lost']), stream({ service: 'late' }, [ts + 1n, 'fine'])]);
  const lateFails = await push(loki, [stream({ service: 'early' }, [ts + 2n, 'fine']), stream({ service: 'late' }, [ts - 2n * hourNs, 'lost'])]);

  assert.equal(earlyFails.status, 204);
  assert.equal(lateFails.status, 400);
  assert.match(lateFails.text, /for stream: \{service="late", service_name="late"\}\n$/);
  assert.equal(loki.stats().rejectedEntries.get(Reasons.TOO_FAR_BEHIND), 2);
});

test('an ingester error replaces the distributor\'s validation text in the answer', async (t) => {
  const loki = await startLoki(t, { limits: { maxLineSize: 8 } });
  const ts = nowNs();
  await push(loki, [stream(kitsune, [ts, 'newest'])]);

  const answer = await push(loki, [stream(kitsune, [ts, 'much too long'], [ts - 2n * hourNs, 'too late'])]);

  assert.equal(answer.status, 400);
  assert.match(answer.text, /entry too far behind/);
  assert.doesNotMatch(answer.text, /Max entry size/);
  assert.equal(loki.stats().rejectedEntries.get(Reasons.LINE_TOO_LONG), 1);
});
