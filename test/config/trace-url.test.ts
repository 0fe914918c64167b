import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';

test('KITSUNE_TRACE_URL is unset by default, and kept as given when it is an http(s) URL holding {trace_id}', () => {
  assert.equal(loadConfig({}).traceUrl, undefined);
  const jaeger = 'http://jaeger.internal:16686/trace/{trace_id}';
  assert.equal(loadConfig({ KITSUNE_TRACE_URL: jaeger }).traceUrl, jaeger);
});

test('KITSUNE_TRACE_URL without {trace_id}, or not http(s), is refused with its name', () => {
  assert.throws(() => loadConfig({ KITSUNE_TRACE_URL: 'http://jaeger.internal:16686/trace/' }), /KITSUNE_TRACE_URL must hold \{trace_id\}/);
  assert.throws(() => loadConfig({ KITSUNE_TRACE_URL: 'javascript:alert({trace_id})' }), /KITSUNE_TRACE_URL is not an http or https URL/);
  assert.throws(() => loadConfig({ KITSUNE_TRACE_URL: 'not a url {trace_id}' }), /KITSUNE_TRACE_URL is not an http or https URL/);
});
