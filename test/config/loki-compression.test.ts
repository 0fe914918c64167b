import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';

test('KITSUNE_LOKI_COMPRESSION is gzip by default and takes gzip or none', () => {
  assert.equal(loadConfig({}).lokiCompression, 'gzip');
  assert.equal(loadConfig({ KITSUNE_LOKI_COMPRESSION: 'none' }).lokiCompression, 'none');
  assert.equal(loadConfig({ KITSUNE_LOKI_COMPRESSION: 'gzip' }).lokiCompression, 'gzip');
});

test('any other KITSUNE_LOKI_COMPRESSION is refused with its name and the values it takes', () => {
  assert.throws(() => loadConfig({ KITSUNE_LOKI_COMPRESSION: 'snappy' }), /KITSUNE_LOKI_COMPRESSION must be gzip or none \(got 'snappy'\)/);
});
