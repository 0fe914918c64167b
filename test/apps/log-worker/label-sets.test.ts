import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LabelSets } from '../../../src/apps/log-worker/loki-sink.ts';
import { streamKey } from '../../../src/loki/index.ts';

test('one labels object per stream: the same object for the same level, command and source, never one of another stream', () => {
  const sets = new LabelSets('kitsune');
  const info = sets.of('INFO', 'create_user', 'web');
  assert.equal(sets.of('INFO', 'create_user', 'web'), info);
  assert.deepEqual(info, { service: 'kitsune', level: 'INFO', command: 'create_user', source: 'web' });
  assert.ok(Object.isFrozen(info));
  const others = [sets.of('WARN', 'create_user', 'web'), sets.of('INFO', 'delete_user', 'web'), sets.of('INFO', 'create_user', 'batch')];
  for (const other of others) assert.notEqual(streamKey(other), streamKey(info));
  assert.equal(streamKey(sets.of('INFO', 'create_user', 'web')), streamKey({ source: 'web', command: 'create_user', level: 'INFO', service: 'kitsune' }));
});

test('label sets stay bounded when callers send ever new sources, and still give the right labels', () => {
  const sets = new LabelSets('kitsune');
  const first = sets.of('INFO', 'create_user', 'source-0');
  for (let i = 1; i <= 5_000; i++) assert.equal(sets.of('INFO', 'create_user', `source-${i}`).source, `source-${i}`);
  // Forgotten after the bound: a new object with the same labels, hence the same stream.
  const again = sets.of('INFO', 'create_user', 'source-0');
  assert.notEqual(again, first);
  assert.equal(streamKey(again), streamKey(first));
});
