import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';

test('the producer linger defaults to 10 ms, can be set to 0, and an out-of-range value names its variable', () => {
  assert.equal(loadConfig({}).kafkaLingerMs, 10);
  assert.equal(loadConfig({ KITSUNE_KAFKA_LINGER_MS: '0' }).kafkaLingerMs, 0);
  assert.throws(() => loadConfig({ KITSUNE_KAFKA_LINGER_MS: '-1' }), /KITSUNE_KAFKA_LINGER_MS/);
  assert.throws(() => loadConfig({ KITSUNE_KAFKA_LINGER_MS: 'soon' }), /KITSUNE_KAFKA_LINGER_MS/);
});
