import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, KitsuneError, isRetryable } from '../../../src/errors.ts';
import { deadLetter, dlqHeaders, dlqReasonMaxLength } from '../../../src/transport/middleware/dead-letter.ts';
import type { DeadLetterInfo, DeadLetterOptions } from '../../../src/transport/middleware/dead-letter.ts';
import { reservedHeaders } from '../../../src/transport/types.ts';
import type { Handler, OutgoingMessage, Publisher } from '../../../src/transport/types.ts';
import { permanent, receivedMessage, transient } from './fixtures.ts';

const failedAt = Date.parse('2025-03-01T12:00:00.000Z');

/** Records what is published; rejects every publish while `failWith` is set. */
function recordingPublisher(): Publisher & { published: { topic: string; message: OutgoingMessage }[]; failWith?: Error } {
  const publisher = {
    published: [] as { topic: string; message: OutgoingMessage }[],
    failWith: undefined as Error | undefined,
    publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
      if (publisher.failWith) return Promise.reject(publisher.failWith);
      for (const message of messages) publisher.published.push({ topic, message });
      return Promise.resolve();
    },
  };
  return publisher;
}

function throwing(error: unknown): Handler {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- tests throw what they are given
  return () => Promise.reject(error);
}

function withDeadLetter(publisher: Publisher, handler: Handler, options: Partial<DeadLetterOptions> = {}): Handler {
  return deadLetter({ publisher, now: () => failedAt, ...options })(handler);
}

test('dead-letter publishes the original id, key, bytes and headers to <topic>.dlq with the failure in headers', async () => {
  const publisher = recordingPublisher();
  const message = receivedMessage({ attempt: 2 });
  const error = Object.assign(new KitsuneError(ErrorCodes.INVALID_MESSAGE, 'duplicate key value violates unique constraint', {
    retryable: false,
  }), { sqlstate: '23505' });

  await withDeadLetter(publisher, throwing(error))(message);

  assert.equal(publisher.published.length, 1);
  const dead = publisher.published[0];
  assert.ok(dead);
  assert.equal(dead.topic, 'db-events.dlq');
  assert.equal(dead.message.id, message.id);
  assert.equal(dead.message.key, message.key);
  assert.equal(dead.message.value, message.value, 'the very same bytes, not a re-encoding');
  assert.deepEqual({ ...dead.message.headers }, {
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

test('dead-letter leaves the kitsune-id header to the transport, which writes it from the kept id', async () => {
  const publisher = recordingPublisher();
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  headers[reservedHeaders.id] = 'evt-1';
  await withDeadLetter(publisher, throwing(permanent()))(receivedMessage({ headers }));

  const dead = publisher.published[0]?.message;
  assert.equal(dead?.id, 'evt-1');
  assert.equal(reservedHeaders.id in (dead?.headers ?? {}), false);
});

test('dead-letter keeps an unkeyed message unkeyed', async () => {
  const publisher = recordingPublisher();
  await withDeadLetter(publisher, throwing(permanent()))(receivedMessage({ key: undefined }));
  assert.equal(publisher.published[0]?.message.key, undefined);
});

test('dead-letter reports error.attempts when it is larger than message.attempt', async () => {
  const publisher = recordingPublisher();
  const handler = withDeadLetter(publisher, throwing(Object.assign(permanent(), { attempts: 7 })));
  await handler(receivedMessage({ attempt: 2 }));
  await withDeadLetter(publisher, throwing(Object.assign(permanent(), { attempts: 1 })))(receivedMessage({ attempt: 3 }));

  assert.deepEqual(
    publisher.published.map(({ message }) => message.headers?.[dlqHeaders.attempts]),
    ['7', '3'],
  );
});

test('dead-letter truncates the reason to 1000 characters and omits headers the error has no value for', async () => {
  const publisher = recordingPublisher();
  await withDeadLetter(publisher, throwing(new Error('x'.repeat(5_000))))(receivedMessage());

  const headers = publisher.published[0]?.message.headers ?? {};
  assert.equal(headers[dlqHeaders.reason], 'x'.repeat(dlqReasonMaxLength));
  assert.equal(dlqReasonMaxLength, 1000);
  assert.equal(dlqHeaders.code in headers, false);
  assert.equal(dlqHeaders.sqlstate in headers, false);
});

test('dead-letter records a thrown non-Error by its text', async () => {
  const publisher = recordingPublisher();
  await withDeadLetter(publisher, throwing('it broke'))(receivedMessage());
  assert.equal(publisher.published[0]?.message.headers?.[dlqHeaders.reason], 'it broke');
});

test('dead-letter replaces the dlq headers of a replayed message that failed again', async () => {
  const publisher = recordingPublisher();
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  headers[dlqHeaders.reason] = 'the first failure';
  headers[dlqHeaders.sqlstate] = '22P02';
  headers.traceparent = 'kept';

  await withDeadLetter(publisher, throwing(permanent('the second failure')))(receivedMessage({ headers }));

  const republished = publisher.published[0]?.message.headers ?? {};
  assert.equal(republished[dlqHeaders.reason], 'the second failure');
  assert.equal(dlqHeaders.sqlstate in republished, false, 'no stale SQLSTATE from the first failure');
  assert.equal(republished.traceparent, 'kept');
});

test('dead-letter throws a retryable error caused by the publish error when the DLQ does not accept the message', async () => {
  const publisher = recordingPublisher();
  const brokerDown = new KitsuneError(ErrorCodes.PUBLISH_FAILED, 'broker unreachable', { retryable: true });
  publisher.failWith = brokerDown;

  await assert.rejects(withDeadLetter(publisher, throwing(permanent()))(receivedMessage()), (thrown) => {
    assert.ok(thrown instanceof KitsuneError);
    assert.equal(thrown.code, ErrorCodes.PUBLISH_FAILED);
    assert.equal(isRetryable(thrown), true);
    assert.equal(thrown.cause, brokerDown);
    return true;
  });
});

test('dead-letter throws a retryable error even when the publish error is not retryable', async () => {
  const publisher = recordingPublisher();
  publisher.failWith = new Error('topic authorization failed');
  await assert.rejects(withDeadLetter(publisher, throwing(permanent()))(receivedMessage()), (thrown) => isRetryable(thrown));
});

test('dead-letter rethrows a retryable error untouched and publishes nothing', async () => {
  const publisher = recordingPublisher();
  const error = transient();
  await assert.rejects(withDeadLetter(publisher, throwing(error))(receivedMessage()), (thrown) => thrown === error);
  assert.deepEqual(publisher.published, []);
});

test('dead-letter passes a successful message through without publishing', async () => {
  const publisher = recordingPublisher();
  let handled = 0;
  await withDeadLetter(publisher, () => {
    handled += 1;
    return Promise.resolve();
  })(receivedMessage());
  assert.equal(handled, 1);
  assert.deepEqual(publisher.published, []);
});

test('dead-letter publishes to the topic topicFor names and then tells onDeadLetter', async () => {
  const publisher = recordingPublisher();
  const infos: DeadLetterInfo[] = [];
  const error = permanent();
  const message = receivedMessage();
  const handler = withDeadLetter(publisher, throwing(error), {
    topicFor: (topic) => `dlq.${topic}`,
    onDeadLetter: (info) => {
      assert.equal(publisher.published.length, 1, 'told only after the DLQ accepted the message');
      infos.push(info);
    },
  });

  await handler(message);
  assert.equal(publisher.published[0]?.topic, 'dlq.db-events');
  assert.deepEqual(infos, [{ message, error, dlqTopic: 'dlq.db-events' }]);
});
