import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reasons, defaultLokiLimits } from '../support/loki/index.ts';
import { hourNs, minuteNs, nowNs, push, pushBody, startLoki, stream } from './helpers.ts';

const kitsune = { service: 'kitsune' };

test('Loki 3 defaults are the documented ones', () => {
  assert.equal(defaultLokiLimits.maxLineSize, 256 * 1024);
  assert.equal(defaultLokiLimits.maxLabelNamesPerSeries, 15);
  assert.equal(defaultLokiLimits.maxLabelNameLength, 1024);
  assert.equal(defaultLokiLimits.maxLabelValueLength, 2048);
  assert.equal(defaultLokiLimits.rejectOldSamplesMaxAgeMs, 7 * 24 * 3_600_000);
  assert.equal(defaultLokiLimits.creationGracePeriodMs, 10 * 60_000);
  assert.equal(defaultLokiLimits.maxChunkAgeMs / 2, 3_600_000);
  assert.equal(defaultLokiLimits.ingestionRateMb, 4);
  assert.equal(defaultLokiLimits.perStreamRateLimit, 3 * 1024 * 1024);
});

test('a line longer than max_line_size is rejected as line_too_long with Loki\'s message', async (t) => {
  const loki = await startLoki(t, { limits: { maxLineSize: 10 } });

  const answer = await push(loki, [stream(kitsune, [nowNs(), '0123456789!'])]);

  assert.equal(answer.status, 400);
  assert.equal(
    answer.text,
    `Max entry size '10' bytes exceeded for stream '{service="kitsune", service_name="kitsune"}' while adding an entry with length '11' bytes\n`,
  );
  assert.equal(loki.stats().rejectedEntries.get(Reasons.LINE_TOO_LONG), 1);
  assert.deepEqual(loki.entries(), []);
});

test('line length is counted in UTF-8 bytes, as Go counts it', async (t) => {
  const loki = await startLoki(t, { limits: { maxLineSize: 4 } });

  const answer = await push(loki, [stream(kitsune, [nowNs(), 'ééé'])]); // 3 characters, 6 bytes

  assert.equal(answer.status, 400);
  assert.equal(loki.stats().rejectedEntries.get(Reasons.LINE_TOO_LONG), 1);
});

test('more label names than max_label_names_per_series is rejected, service_name not counted', async (t) => {
  const loki = await startLoki(t, { limits: { maxLabelNamesPerSeries: 2 } });
  const ts = nowNs();

  const two = await push(loki, [stream({ service: 'kitsune', level: 'info' }, [ts, 'two labels'])]);
  const three = await push(loki, [stream({ service: 'kitsune', level: 'info', command: 'x' }, [ts, 'three labels'])]);

  assert.equal(two.status, 204);
  assert.equal(three.status, 400);
  assert.match(three.text, /^entry for stream '\{command="x", level="info", service="kitsune", service_name="kitsune"\}' has 3 label names; limit 2\n$/);
  assert.equal(loki.stats().rejectedEntries.get(Reasons.MAX_LABEL_NAMES_PER_SERIES), 1);
});

test('an invalid or reserved label name fails the whole push with 400 invalid_labels, storing nothing', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();

  for (const name of ['app-name', '1app', '__internal']) {
    const answer = await push(loki, [stream(kitsune, [ts, 'valid stream']), stream({ [name]: 'x' }, [ts, 'bad stream'])]);
    assert.equal(answer.status, 400, name);
    assert.match(answer.text, /^couldn't parse labels: Error parsing labels '.*' with error: invalid label name/, name);
  }
  assert.deepEqual(loki.entries(), []);
  assert.equal(loki.stats().rejectedEntries.get(Reasons.INVALID_LABELS), 6);
});

test('a label name longer than max_label_name_length is rejected as label_name_too_long', async (t) => {
  const loki = await startLoki(t, { limits: { maxLabelNameLength: 8 } });
  const name = 'a_long_name';

  const answer = await push(loki, [stream({ ...kitsune, [name]: 'x' }, [nowNs(), 'x'])]);

  assert.equal(answer.status, 400);
  assert.match(answer.text, /has label name too long: 'a_long_name'\n$/);
  assert.equal(loki.stats().rejectedEntries.get(Reasons.LABEL_NAME_TOO_LONG), 1);
});

test('a label value longer than max_label_value_length is rejected as label_value_too_long', async (t) => {
  const loki = await startLoki(t, { limits: { maxLabelValueLength: 8 } });

  const answer = await push(loki, [stream({ service: 'kitsune-gateway' }, [nowNs(), 'x'])]);

  assert.equal(answer.status, 400);
  assert.match(answer.text, /has label value too long: 'kitsune-gateway'\n$/);
  assert.equal(loki.stats().rejectedEntries.get(Reasons.LABEL_VALUE_TOO_LONG), 1);
});

test('a stream without labels is missing_labels once service_name discovery is off', async (t) => {
  const loki = await startLoki(t, { limits: { discoverServiceName: [] } });

  const answer = await push(loki, [stream({}, [nowNs(), 'x'])]);

  assert.equal(answer.status, 400);
  assert.equal(answer.text, 'error at least one label pair is required per stream\n');
  assert.equal(loki.stats().rejectedEntries.get(Reasons.MISSING_LABELS), 1);
});

test('an entry older than reject_old_samples_max_age is greater_than_max_sample_age, unless reject_old_samples is off', async (t) => {
  const strict = await startLoki(t);
  const lenient = await startLoki(t, { limits: { rejectOldSamples: false } });
  const eightDaysAgo = nowNs() - 8n * 24n * hourNs;

  const refused = await push(strict, [stream(kitsune, [eightDaysAgo, 'old'])]);
  const accepted = await push(lenient, [stream(kitsune, [eightDaysAgo, 'old'])]);

  assert.equal(refused.status, 400);
  assert.match(refused.text, /^entry for stream '\{service="kitsune", service_name="kitsune"\}' has timestamp too old: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, oldest acceptable timestamp is: .*Z\n$/);
  assert.equal(strict.stats().rejectedEntries.get(Reasons.GREATER_THAN_MAX_SAMPLE_AGE), 1);
  assert.equal(accepted.status, 204);
});

test('an entry beyond creation_grace_period in the future is too_far_in_future', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();

  const answer = await push(loki, [stream(kitsune, [ts + 5n * minuteNs, 'soon'], [ts + 11n * minuteNs, 'too soon'])]);

  assert.equal(answer.status, 400);
  assert.match(answer.text, /has timestamp too new: /);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['soon'],
  );
  assert.equal(loki.stats().rejectedEntries.get(Reasons.TOO_FAR_IN_FUTURE), 1);
});

test('structured metadata over its size or count limit, or when disallowed, is rejected with its reason', async (t) => {
  const sized = await startLoki(t, { limits: { maxStructuredMetadataSize: 10, maxStructuredMetadataEntriesCount: 2 } });
  const disallowed = await startLoki(t, { limits: { allowStructuredMetadata: false } });
  const ts = nowNs();

  await push(sized, [stream(kitsune, [ts, 'large', { trace_id: '0123456789' }], [ts + 1n, 'many', { a: '1', b: '2', c: '3' }], [ts + 2n, 'fine', { a: '1' }])]);
  const refused = await push(disallowed, [stream(kitsune, [ts, 'with metadata', { a: '1' }])]);

  const rejected = sized.stats().rejectedEntries;
  assert.equal(rejected.get(Reasons.STRUCTURED_METADATA_TOO_LARGE), 1);
  assert.equal(rejected.get(Reasons.STRUCTURED_METADATA_TOO_MANY), 1);
  assert.deepEqual(
    sized.entries().map((entry) => entry.line),
    ['fine'],
  );
  assert.equal(refused.status, 400);
  assert.equal(disallowed.stats().rejectedEntries.get(Reasons.DISALLOWED_STRUCTURED_METADATA), 1);
});

test('a push over the tenant ingestion rate is 429 rate_limited and nothing of it is stored', async (t) => {
  // 0.0001 MiB/s with a 0.001 MiB (~1048 byte) burst.
  const loki = await startLoki(t, { limits: { ingestionRateMb: 0.0001, ingestionBurstSizeMb: 0.001 } });
  const ts = nowNs();

  const first = await push(loki, [stream(kitsune, [ts, 'x'.repeat(600)])]);
  const second = await push(loki, [stream(kitsune, [ts + 1n, 'y'.repeat(600)], [ts + 2n, 'z'])]);

  assert.equal(first.status, 204);
  assert.equal(second.status, 429);
  assert.equal(
    second.text,
    "Ingestion rate limit exceeded for user fake (limit: 104 bytes/sec) while attempting to ingest '2' lines totaling '601' bytes, " +
      'reduce log volume or contact your Loki administrator to see if the limit can be increased\n',
  );
  assert.equal(second.headers.get('retry-after'), null);
  assert.equal(loki.entries().length, 1);
  assert.equal(loki.stats().rejectedEntries.get(Reasons.RATE_LIMITED), 2);
});

test('a stream over per_stream_rate_limit is 429 for that stream while the other streams are stored', async (t) => {
  const loki = await startLoki(t, { limits: { perStreamRateLimit: 100, perStreamRateLimitBurst: 500 } });
  const ts = nowNs();

  const answer = await push(loki, [
    stream({ service: 'busy' }, [ts, 'a'.repeat(300)], [ts + 1n, 'b'.repeat(300)]),
    stream({ service: 'quiet' }, [ts, 'fine']),
    stream({ service: 'busy', level: 'warn' }, [ts, 'c'.repeat(600)]),
  ]);

  assert.equal(answer.status, 429);
  assert.match(answer.text, /reason: 'Per stream rate limit exceeded \(limit: 100B\/sec\) while attempting to ingest for stream '\{level="warn", service="busy", service_name="busy"\}' totaling 600B, /);
  assert.match(answer.text, /user 'fake', total ignored: 1 out of 1 for stream: \{level="warn", service="busy", service_name="busy"\}$/m);
  // The whole of the first stream (600 bytes > 500 burst) and the third are refused, as Loki 3
  // rate-limits a stream's share of a push as a whole.
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['fine'],
  );
  assert.equal(loki.stats().rejectedEntries.get(Reasons.PER_STREAM_RATE_LIMIT), 3);
});

test('with shard_streams off the per-stream limit refuses entry by entry', async (t) => {
  const loki = await startLoki(t, { limits: { perStreamRateLimit: 100, perStreamRateLimitBurst: 500, shardStreamsEnabled: false } });
  const ts = nowNs();

  const answer = await push(loki, [stream({ service: 'busy' }, [ts, 'a'.repeat(300)], [ts + 1n, 'b'.repeat(300)])]);

  assert.equal(answer.status, 429);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['a'.repeat(300)],
  );
});

test('a tenant past max_global_streams_per_user gets 429 stream_limit for new streams only', async (t) => {
  const loki = await startLoki(t, { limits: { maxGlobalStreamsPerUser: 1 } });
  const ts = nowNs();

  const first = await push(loki, [stream({ service: 'one' }, [ts, 'a'])]);
  const second = await push(loki, [stream({ service: 'one' }, [ts + 1n, 'b']), stream({ service: 'two' }, [ts, 'c'])]);

  assert.equal(first.status, 204);
  assert.equal(second.status, 429);
  assert.match(second.text, /^Maximum active stream limit exceeded when trying to create stream \{service="two", service_name="two"\}/);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    ['a', 'b'],
  );
  assert.equal(loki.stats().rejectedEntries.get(Reasons.STREAM_LIMIT), 1);
});

test('a body over the receive limit is 413 request_body_too_large', async (t) => {
  const loki = await startLoki(t, { limits: { maxRecvMsgSize: 100 } });

  const plain = await pushBody(loki, JSON.stringify({ streams: [stream(kitsune, [nowNs(), 'x'.repeat(200)])] }));
  const gzipped = await push(loki, [stream(kitsune, [nowNs(), 'y'.repeat(500)])], { gzip: true });

  assert.equal(plain.status, 413);
  assert.match(plain.text, /^request body too large: \d+ bytes, limit: 100 bytes\n$/);
  assert.equal(gzipped.status, 413);
});
