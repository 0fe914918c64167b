import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';

test('fetch sizing defaults to 64 KiB within 50 ms and can be set', () => {
  const defaults = loadConfig({});
  assert.equal(defaults.kafkaFetchMinBytes, 65_536);
  assert.equal(defaults.kafkaFetchMaxWaitMs, 50);
  const set = loadConfig({ KITSUNE_KAFKA_FETCH_MIN_BYTES: '1', KITSUNE_KAFKA_FETCH_MAX_WAIT_MS: '500' });
  assert.equal(set.kafkaFetchMinBytes, 1);
  assert.equal(set.kafkaFetchMaxWaitMs, 500);
});

test('a fetch setting out of range is reported with its variable name', () => {
  assert.throws(() => loadConfig({ KITSUNE_KAFKA_FETCH_MAX_WAIT_MS: '0' }), /KITSUNE_KAFKA_FETCH_MAX_WAIT_MS/);
  assert.throws(() => loadConfig({ KITSUNE_KAFKA_FETCH_MIN_BYTES: 'lots' }), /KITSUNE_KAFKA_FETCH_MIN_BYTES/);
});
