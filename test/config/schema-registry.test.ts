import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';

describe('schema registry configuration', () => {
  test('is off without KITSUNE_SCHEMA_REGISTRY_URL', () => {
    assert.equal(loadConfig({}).schemaRegistry, undefined);
  });

  test('moves credentials out of the URL into basic auth, and defaults to the header wire format', () => {
    const config = loadConfig({ KITSUNE_SCHEMA_REGISTRY_URL: 'https://key:s%40cret@registry.example:8081/' });
    assert.deepEqual(config.schemaRegistry, { url: 'https://registry.example:8081', username: 'key', password: 's@cret', wireFormat: 'header', timeoutMs: 10_000 });
  });

  test('takes the username and password variables over the URL\'s, and the Confluent wire format on request', () => {
    const config = loadConfig({
      KITSUNE_SCHEMA_REGISTRY_URL: 'http://a:b@127.0.0.1:8080/apis/ccompat/v7',
      KITSUNE_SCHEMA_REGISTRY_USERNAME: 'user',
      KITSUNE_SCHEMA_REGISTRY_PASSWORD: 'pass',
      KITSUNE_SCHEMA_REGISTRY_WIRE_FORMAT: 'confluent',
    });
    assert.equal(config.schemaRegistry?.url, 'http://127.0.0.1:8080/apis/ccompat/v7');
    assert.deepEqual([config.schemaRegistry?.username, config.schemaRegistry?.password, config.schemaRegistry?.wireFormat], ['user', 'pass', 'confluent']);
  });

  test('reports a bad URL, wire format and timeout together', () => {
    assert.throws(
      () => loadConfig({ KITSUNE_SCHEMA_REGISTRY_URL: 'postgres://x/y', KITSUNE_SCHEMA_REGISTRY_WIRE_FORMAT: 'avro', KITSUNE_SCHEMA_REGISTRY_TIMEOUT_MS: '5' }),
      (error: Error) => {
        assert.match(error.message, /KITSUNE_SCHEMA_REGISTRY_URL must be http or https/);
        assert.match(error.message, /KITSUNE_SCHEMA_REGISTRY_WIRE_FORMAT must be header or confluent \(got 'avro'\)/);
        assert.match(error.message, /KITSUNE_SCHEMA_REGISTRY_TIMEOUT_MS must be an integer from 100/);
        return true;
      },
    );
  });
});
