import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeEvent, encodeEvent, maxPayloadDepth, type CommandEvent } from '../../src/events/envelope.ts';
import { storable, unstorableIn } from '../../src/events/text.ts';

const event = (overrides: Partial<CommandEvent> = {}): CommandEvent => ({
  id: '01a24a9b-d691-7a21-ab11-09b2ff24fbe6',
  command: 'create_user',
  version: '1',
  payload: { name: 'Ada', email: 'ada@example.com' },
  log: { level: 'INFO', message: 'User created' },
  metadata: { idempotency_key: 'k', timestamp: '2026-01-01T00:00:00.000Z', source: 'test' },
  ...overrides,
});

const refusal = (bytes: Buffer): string => {
  try {
    decodeEvent(bytes);
  } catch (error) {
    return (error as Error).message;
  }
  return 'accepted';
};

test('decodeEvent names the field that holds U+0000 or a lone surrogate, payload property names included', () => {
  assert.equal(refusal(encodeEvent(event({ version: '1\u0000' }))), 'malformed event: version contains U+0000');
  assert.equal(refusal(encodeEvent(event({ payload: { tags: ['ok', 'x\uDBFF'] } }))), 'malformed event: payload.tags[1] contains a lone surrogate U+DBFF');
  assert.equal(refusal(encodeEvent(event({ payload: { 'a\u0000b': 1 } }))), 'malformed event: payload["a\\u0000b"] (the property name) contains U+0000');
  assert.equal(refusal(encodeEvent(event({ payload: { emoji: '🦊 pairs are fine' } }))), 'accepted');
});

test('decodeEvent refuses a payload nested deeper than maxPayloadDepth without overflowing the stack', () => {
  const deep = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;
  const raw = (levels: number): Buffer =>
    Buffer.from(encodeEvent(event()).toString().replace('"payload":{', `"payload":{"deep":${deep(levels)},`));
  assert.equal(refusal(raw(maxPayloadDepth - 1)), 'accepted');
  assert.match(refusal(raw(maxPayloadDepth)), /^malformed event: payload\.deep(\[0\])+ is nested deeper than 256 levels$/);
  assert.match(refusal(raw(200_000)), /^malformed event: (not JSON|payload\.deep.* is nested deeper)/);
});

test('storable escapes exactly the units PostgreSQL cannot hold, and keeps well-formed pairs', () => {
  assert.equal(storable('a\u0000b\uD800c\uDC00🦊'), 'a\\u0000b\\uD800c\\uDC00🦊');
  assert.equal(unstorableIn(storable('x\u0000\uDFFF')), undefined);
  assert.equal(unstorableIn('\uD83E\uDD8A'), undefined);
});
