import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { LokiTestServer } from '../support/loki/index.ts';
import { linesOf, nowNs, push, queryRange, secondNs, startLoki, stream } from './helpers.ts';

/** Three streams with two lines each, a second apart from a whole second; returns the first timestamp. */
async function seed(t: TestContext): Promise<{ loki: LokiTestServer; t0: bigint }> {
  const loki = await startLoki(t);
  const t0 = (nowNs() / secondNs - 60n) * secondNs;
  const answer = await push(loki, [
    stream({ service: 'kitsune', level: 'info' }, [t0, 'info one', { event_id: 'e-1' }], [t0 + 3n * secondNs, 'info two']),
    stream({ service: 'kitsune', level: 'error' }, [t0 + secondNs, 'error one'], [t0 + 4n * secondNs, 'error two timeout']),
    stream({ service: 'billing', level: 'info' }, [t0 + 2n * secondNs, 'billing one'], [t0 + 5n * secondNs, 'billing two']),
  ]);
  assert.equal(answer.status, 204);
  return { loki, t0 };
}

test('query_range selects streams with =, !=, =~ and !~ matchers', async (t) => {
  const { loki } = await seed(t);
  const cases = new Map([
    ['{service="kitsune",level="info"}', ['info two', 'info one']],
    ['{service="kitsune", level!="info"}', ['error two timeout', 'error one']],
    ['{service=~"kit.*"}', ['error two timeout', 'info two', 'error one', 'info one']],
    ['{service=~"kit"}', []], // anchored, as in Loki
    ['{level="info", service!~"kit.+"}', ['billing two', 'billing one']],
  ]);

  for (const [query, expected] of cases) {
    const answer = await queryRange(loki, query);
    assert.equal(answer.status, 200, `${query}: ${answer.text}`);
    const lines = answer.result.flatMap((s) => s.values).sort((a, b) => (String(b[0]) < String(a[0]) ? -1 : 1)).map((v) => v[1]);
    assert.deepEqual(lines, expected, query);
  }
});

test('line filters keep or drop lines by text or regex', async (t) => {
  const { loki } = await seed(t);
  const cases = new Map([
    ['{service="kitsune"} |= "two"', ['error two timeout', 'info two']],
    ['{service="kitsune"} != "two"', ['error one', 'info one']],
    ['{service="kitsune"} |~ "one|timeout"', ['error two timeout', 'error one', 'info one']],
    ['{service="kitsune"} |= "two" !~ "time(out)?"', ['info two']],
    ['{service="kitsune"} |~ `(?i)INFO`', ['info two', 'info one']],
  ]);

  for (const [query, expected] of cases) {
    const answer = await queryRange(loki, query);
    assert.equal(answer.status, 200, `${query}: ${answer.text}`);
    assert.deepEqual(answer.result.flatMap((s) => s.values).sort((a, b) => (String(b[0]) < String(a[0]) ? -1 : 1)).map((v) => v[1]), expected, query);
  }
});

test('a label filter after the selector matches structured metadata', async (t) => {
  const { loki } = await seed(t);

  const answer = await queryRange(loki, '{service="kitsune"} | event_id="e-1"');

  assert.deepEqual(linesOf(answer), ['info one']);
});

test('start is inclusive, end is exclusive, and limit keeps the entries nearest the start of the direction', async (t) => {
  const { loki, t0 } = await seed(t);
  const range = { start: (t0 + secondNs).toString(), end: (t0 + 4n * secondNs).toString() };

  const forward = await queryRange(loki, '{service=~".+"}', { ...range, direction: 'forward', categorize: true });
  const limited = await queryRange(loki, '{service=~".+"}', { ...range, direction: 'forward', limit: 2, categorize: true });
  const backward = await queryRange(loki, '{service=~".+"}', { ...range, limit: 2, categorize: true });

  const ordered = (answer: typeof forward): string[] =>
    answer.result.flatMap((s) => s.values).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)).map((v) => String(v[1]));
  assert.deepEqual(ordered(forward), ['error one', 'billing one', 'info two']);
  assert.deepEqual(ordered(limited), ['error one', 'billing one']);
  assert.deepEqual(ordered(backward), ['billing one', 'info two']);
});

test('values are newest first by default and oldest first with direction=forward', async (t) => {
  const { loki, t0 } = await seed(t);

  const backward = await queryRange(loki, '{service="kitsune", level="error"}');
  const forward = await queryRange(loki, '{service="kitsune", level="error"}', { direction: 'forward' });

  const newest = (t0 + 4n * secondNs).toString();
  const oldest = (t0 + secondNs).toString();
  assert.deepEqual(backward.result[0]?.values.map((v) => v[0]), [newest, oldest]);
  assert.deepEqual(forward.result[0]?.values.map((v) => v[0]), [oldest, newest]);
});

test('by default structured metadata is merged into the stream labels and values are pairs', async (t) => {
  const { loki, t0 } = await seed(t);

  const answer = await queryRange(loki, '{service="kitsune", level="info"}');

  assert.deepEqual(answer.data.resultType, 'streams');
  assert.equal(answer.data.encodingFlags, undefined);
  assert.deepEqual(answer.result, [
    { stream: { event_id: 'e-1', level: 'info', service: 'kitsune', service_name: 'kitsune' }, values: [[t0.toString(), 'info one']] },
    { stream: { level: 'info', service: 'kitsune', service_name: 'kitsune' }, values: [[(t0 + 3n * secondNs).toString(), 'info two']] },
  ]);
});

test('with categorize-labels, stream holds only stream labels and each value carries its structured metadata', async (t) => {
  const { loki, t0 } = await seed(t);

  const answer = await queryRange(loki, '{service="kitsune", level="info"}', { categorize: true });

  assert.deepEqual(answer.data.encodingFlags, ['categorize-labels']);
  assert.deepEqual(answer.result, [
    {
      stream: { level: 'info', service: 'kitsune', service_name: 'kitsune' },
      values: [
        [(t0 + 3n * secondNs).toString(), 'info two', {}],
        [t0.toString(), 'info one', { structuredMetadata: { event_id: 'e-1' } }],
      ],
    },
  ]);
});

test('a selector without a matcher that excludes the empty value is refused with 400', async (t) => {
  const loki = await startLoki(t);

  for (const query of ['{service=~".*"}', '{service!="kitsune"}', '{service=""}']) {
    const answer = await queryRange(loki, query);
    assert.equal(answer.status, 400, query);
    assert.match(answer.text, /at least one regexp or equality matcher that does not have an empty-compatible value/);
  }
});

test('limits, directions and stages Loki would refuse are answered 400', async (t) => {
  const loki = await startLoki(t, { limits: { maxEntriesLimitPerQuery: 10 } });
  const cases = new Map<string, [string, Parameters<typeof queryRange>[2]]>([
    ['max entries limit per query exceeded, limit > max_entries_limit (11 > 10)', ['{a="b"}', { limit: 11 }]],
    ['limit must be a positive value', ['{a="b"}', { limit: 0 }]],
    ['end timestamp must not be before or equal to start time', ['{a="b"}', { start: '20', end: '10', limit: 5 }]],
    ["invalid direction 'sideways'", ['{a="b"}', { limit: 5, direction: 'sideways' as 'forward' }]],
    ['not supported by the Loki test server', ['{a="b"} | json', { limit: 5 }]],
    ['parse error', ['sum(rate({a="b"}[1m]))', { limit: 5 }]],
  ]);

  for (const [message, [query, options]] of cases) {
    const answer = await queryRange(loki, query, options);
    assert.equal(answer.status, 400, query);
    assert.ok(answer.text.includes(message), `${query}: ${answer.text}`);
  }
});

test('start and end are read as nanoseconds, as seconds when 10 digits or fewer, as float seconds, or as RFC3339', async (t) => {
  const { loki, t0 } = await seed(t);
  const startSeconds = t0 / secondNs;
  const iso = new Date(Number(startSeconds) * 1000).toISOString().replace('.000Z', 'Z');
  const expected = ['info one', 'error one', 'billing one', 'info two', 'error two timeout', 'billing two'].length;

  for (const start of [t0.toString(), startSeconds.toString(), `${startSeconds}.0`, iso]) {
    const answer = await queryRange(loki, '{service=~".+"}', { start, direction: 'forward' });
    assert.equal(answer.status, 200, start);
    assert.equal(linesOf(answer).length, expected, start);
  }
  const later = await queryRange(loki, '{service=~".+"}', { start: `${startSeconds + 2n}.5` });
  assert.equal(linesOf(later).length, 3);
});
