import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LogLine } from '../../../src/apps/log-worker/log-line.ts';
import { LabelSets, lokiEntryOf } from '../../../src/apps/log-worker/loki-sink.ts';
import { entryBytes } from '../../../src/loki/index.ts';

const base: LogLine = {
  eventId: '0192f1c4-6a55-7b8e-9d2a-3c4b5d6e7f80',
  timestampMs: Date.UTC(2026, 0, 31, 12, 0, 0, 123),
  level: 'INFO',
  command: 'create_user',
  version: '1',
  source: 'web',
  message: 'created',
  idempotencyKey: 'key-1',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
};

test('the line is exactly the JSON of { msg, event_id }, whatever the message holds', () => {
  const sets = new LabelSets('kitsune');
  const messages = ['created', 'quote " backslash \\ slash /', 'new\nline\ttab\u0001', 'ünïcødé 日本 🦊', '', '{"already":"json"}', 'lone \ud800 surrogate'];
  for (const message of messages) {
    const { entry } = lokiEntryOf({ ...base, message, eventId: `id "${message}"` }, sets);
    assert.equal(entry.line, JSON.stringify({ msg: message, event_id: `id "${message}"` }));
    assert.deepEqual(JSON.parse(entry.line), { msg: message, event_id: `id "${message}"` });
  }
});

test('the metadata carries the ids, and the trace ids only when the record had a traceparent, in one order', () => {
  const sets = new LabelSets('kitsune');
  const traced = lokiEntryOf(base, sets).entry;
  assert.deepEqual(Object.entries(traced.metadata), [
    ['event_id', base.eventId],
    ['idempotency_key', 'key-1'],
    ['trace_id', base.traceId],
    ['span_id', base.spanId],
  ]);
  const untraced = lokiEntryOf({ ...base, traceId: undefined, spanId: undefined }, sets).entry;
  assert.deepEqual(Object.entries(untraced.metadata), [
    ['event_id', base.eventId],
    ['idempotency_key', 'key-1'],
  ]);
  assert.equal(traced.ts, 1_769_860_800_123_000_000n);
  // What Loki counts: the line and every metadata name and value, in UTF-8 bytes.
  const unicode = lokiEntryOf({ ...base, message: 'ü' }, sets).entry;
  const expected = Buffer.byteLength(unicode.line) + Object.entries(unicode.metadata).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value), 0);
  assert.equal(entryBytes(unicode), expected);
});
