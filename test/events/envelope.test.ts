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

test('decodeEvent finds U+0000 and lone surrogates however they are escaped, and accepts the storable text beside them', () => {
  const json = encodeEvent(event()).toString();
  // Another producer may escape any character: \u00e9 is é, storable; \u0000 is not, in a small
  // event or a large one.
  const escaped = Buffer.from(json.replace('"Ada"', '"Ad\\u00e9"'));
  assert.equal(decodeEvent(escaped).payload.name, 'Adé');
  assert.equal(refusal(Buffer.from(json.replace('"Ada"', '"Ad\\u0000"'))), 'malformed event: payload.name contains U+0000');
  const large = encodeEvent(event({ payload: { name: 'Ada', note: 'x'.repeat(4_000), email: 'ada@example.com' } })).toString();
  assert.equal(refusal(Buffer.from(large.replace('"Ada"', '"Ad\\ud800"'))), 'malformed event: payload.name contains a lone surrogate U+D800');
  assert.equal(refusal(Buffer.from(json.replace('"k"', '"\\u0000"'))), 'malformed event: metadata.idempotency_key contains U+0000');
  // A backslash before a u is text, not an escape.
  assert.equal(decodeEvent(encodeEvent(event({ payload: { path: 'C:\\users\\ada' } }))).payload.path, 'C:\\users\\ada');
  // A surrogate's UTF-8 bytes are not UTF-8: they decode to U+FFFD, which PostgreSQL stores.
  const [before, after] = json.split('Ada') as [string, string];
  const rawSurrogate = Buffer.concat([Buffer.from(before), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(after)]);
  assert.equal(decodeEvent(rawSurrogate).payload.name, '\uFFFD\uFFFD\uFFFD');
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
