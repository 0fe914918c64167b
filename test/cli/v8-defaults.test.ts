import assert from 'node:assert/strict';
import { test } from 'node:test';
import { v8Defaults, v8FlagsToApply } from '../../src/cli/v8-defaults.ts';

test('a role started without them gets its garbage-collection defaults', () => {
  assert.deepEqual(v8FlagsToApply([], v8Defaults['db-worker']), ['--heap-growing-percent=100']);
  assert.deepEqual(v8FlagsToApply(['--enable-source-maps', '--import=/tmp/probe.mjs'], v8Defaults.api), ['--heap-growing-percent=100']);
  assert.deepEqual(v8FlagsToApply([], v8Defaults['log-worker']), ['--heap-growing-percent=100']);
  assert.deepEqual(v8FlagsToApply([], v8Defaults.start), ['--heap-growing-percent=100']);
});

test("an operator's value on node's command line wins, in either spelling", () => {
  const defaults = ['--heap-growing-percent=100', '--max-semi-space-size=8'];
  assert.deepEqual(v8FlagsToApply(['--heap-growing-percent=0'], defaults), ['--max-semi-space-size=8']);
  assert.deepEqual(v8FlagsToApply(['--max_semi_space_size=16'], defaults), ['--heap-growing-percent=100']);
  assert.deepEqual(v8FlagsToApply(['--heap_growing_percent', '--max-semi-space-size=2'], defaults), []);
});

test('a flag that only starts like a default is not taken for it', () => {
  assert.deepEqual(v8FlagsToApply(['--heap-growing-percentage=5'], ['--heap-growing-percent=100']), ['--heap-growing-percent=100']);
});
