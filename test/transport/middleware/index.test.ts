import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes } from '../../../src/errors.ts';
import {
  CircuitBreaker,
  CircuitStates,
  circuitBreaker,
  deadLetter,
  dlqHeaders,
  retry,
  timeout,
} from '../../../src/transport/middleware/index.ts';
import type { Handler, OutgoingMessage } from '../../../src/transport/types.ts';
import { permanent, receivedMessage, transient } from './fixtures.ts';

/** The order index.ts recommends, with waits recorded instead of slept. */
function chain(handler: Handler) {
  const published: OutgoingMessage[] = [];
  const publisher = {
    publish: (_topic: string, messages: readonly OutgoingMessage[]) => {
      published.push(...messages);
      return Promise.resolve();
    },
  };
  const breaker = new CircuitBreaker({ failureThreshold: 2 });
  const options = { maxAttempts: 3, sleep: () => Promise.resolve() };
  const wrapped = circuitBreaker(breaker)(retry(options)(deadLetter({ publisher })(timeout(20)(handler))));
  return { wrapped, breaker, published };
}

test('the recommended chain retries transient failures, then dead-letters a permanent one and acknowledges', async (t) => {
  const errors = [transient(), transient(), permanent('bad row')];
  let calls = 0;
  const { wrapped, breaker, published } = chain(() => Promise.reject(errors[calls++] ?? new Error('unexpected')));
  t.after(() => breaker.close());

  await wrapped(receivedMessage());
  assert.equal(calls, 3);
  assert.equal(published.length, 1);
  assert.equal(published[0]?.headers?.[dlqHeaders.reason], 'bad row');
  assert.equal(breaker.state, CircuitStates.closed);
});

test('the recommended chain turns a hang into retries, and what retry gives up on reaches the breaker', async (t) => {
  let calls = 0;
  const { wrapped, breaker, published } = chain(() => {
    calls += 1;
    return new Promise(() => undefined);
  });
  t.after(() => breaker.close());

  await assert.rejects(wrapped(receivedMessage()), { code: ErrorCodes.HANDLER_TIMEOUT });
  assert.equal(calls, 3);
  assert.equal(published.length, 0, 'a hang is never dead-letter material');
  assert.equal(breaker.state, CircuitStates.closed);

  await assert.rejects(wrapped(receivedMessage()), { code: ErrorCodes.HANDLER_TIMEOUT });
  assert.equal(breaker.state, CircuitStates.open);
});
