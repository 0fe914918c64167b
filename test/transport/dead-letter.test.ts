import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, KitsuneError } from '../../src/errors.ts';
import { deadLetterMessage, dlqHeaders, dlqReasonMaxLength } from '../../src/transport/dead-letter.ts';
import { reservedHeaders } from '../../src/transport/types.ts';
import { permanent, receivedMessage } from './fixtures.ts';

const failedAt = Date.parse('2025-03-01T12:00:00.000Z');

test('a dead letter keeps the original id, key, bytes and headers, with the failure in headers', () => {
  const message = receivedMessage({ attempt: 2 });
  const error = Object.assign(new KitsuneError(ErrorCodes.INVALID_MESSAGE, 'duplicate key value violates unique constraint', { retryable: false }), { sqlstate: '23505' });

  const dead = deadLetterMessage(message, error, failedAt);

  assert.equal(dead.id, message.id);
  assert.equal(dead.key, message.key);
  assert.equal(dead.value, message.value, 'the very same bytes, not a re-encoding');
  assert.deepEqual({ ...dead.headers }, {
    traceparent: message.headers.traceparent,
    [dlqHeaders.reason]: 'duplicate key value violates unique constraint',
    [dlqHeaders.code]: ErrorCodes.INVALID_MESSAGE,
    [dlqHeaders.sqlstate]: '23505',
    [dlqHeaders.attempts]: '2',
    [dlqHeaders.sourceTopic]: 'db-events',
    [dlqHeaders.sourcePartition]: '3',
    [dlqHeaders.sourceOffset]: '1234',
    [dlqHeaders.failedAt]: '2025-03-01T12:00:00.000Z',
  });
});

test('a dead letter leaves the kitsune-id header to the transport, which writes it from the kept id', () => {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  headers[reservedHeaders.id] = 'evt-1';
  const dead = deadLetterMessage(receivedMessage({ headers }), permanent(), failedAt);
  assert.equal(dead.id, 'evt-1');
  assert.equal(reservedHeaders.id in (dead.headers ?? {}), false);
});

test('a dead letter keeps an unkeyed message unkeyed', () => {
  assert.equal(deadLetterMessage(receivedMessage({ key: undefined }), permanent(), failedAt).key, undefined);
});

test('a dead letter reports error.attempts when it is larger than message.attempt', () => {
  const attempts = [
    deadLetterMessage(receivedMessage({ attempt: 2 }), Object.assign(permanent(), { attempts: 7 }), failedAt),
    deadLetterMessage(receivedMessage({ attempt: 3 }), Object.assign(permanent(), { attempts: 1 }), failedAt),
  ].map((dead) => dead.headers?.[dlqHeaders.attempts]);
  assert.deepEqual(attempts, ['7', '3']);
});

test('a dead letter truncates the reason to 1000 characters and omits headers the error has no value for', () => {
  const headers = deadLetterMessage(receivedMessage(), new Error('x'.repeat(5_000)), failedAt).headers ?? {};
  assert.equal(headers[dlqHeaders.reason], 'x'.repeat(dlqReasonMaxLength));
  assert.equal(dlqReasonMaxLength, 1000);
  assert.equal(dlqHeaders.code in headers, false);
  assert.equal(dlqHeaders.sqlstate in headers, false);
});

test('a dead letter replaces the dlq headers of a replayed message that failed again', () => {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  headers[dlqHeaders.reason] = 'the first failure';
  headers[dlqHeaders.sqlstate] = '22P02';
  headers.traceparent = 'kept';
  const republished = deadLetterMessage(receivedMessage({ headers }), permanent('the second failure'), failedAt).headers ?? {};
  assert.equal(republished[dlqHeaders.reason], 'the second failure');
  assert.equal(dlqHeaders.sqlstate in republished, false, 'no stale SQLSTATE from the first failure');
  assert.equal(republished.traceparent, 'kept');
});

test('a dead letter escapes what the Postgres log cannot store, in the id, key, header names and values', () => {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  headers['x\u0000name'] = 'value \uD800';
  const dead = deadLetterMessage(receivedMessage({ id: 'evt\u0000', key: 'key\u0000', headers }), permanent('reason with \u0000'), failedAt);
  assert.equal(dead.id, 'evt\\u0000');
  assert.equal(dead.key, 'key\\u0000');
  assert.equal(dead.headers?.['x\\u0000name'], 'value \\uD800');
  assert.equal(dead.headers?.[dlqHeaders.reason], 'reason with \\u0000');
});
