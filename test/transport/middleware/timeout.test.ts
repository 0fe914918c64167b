import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, KitsuneError, isRetryable } from '../../../src/errors.ts';
import { timeout } from '../../../src/transport/middleware/timeout.ts';
import { permanent, receivedMessage } from './fixtures.ts';

/** Timers alive in this process; a timer that outlives its handler shows up here. */
function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

// The hung handler never settles: only the middleware's deadline can end the call (else the test times out).
test('timeout rejects with a retryable HANDLER_TIMEOUT error when the handler does not settle in time', { timeout: 30_000 }, async () => {
  let finishLate!: () => void;
  const hung = new Promise<void>((resolve) => {
    finishLate = resolve;
  });

  await assert.rejects(timeout(20)(() => hung)(receivedMessage()), (thrown) => {
    assert.ok(thrown instanceof KitsuneError);
    assert.equal(thrown.code, ErrorCodes.HANDLER_TIMEOUT);
    assert.equal(isRetryable(thrown), true);
    assert.match(thrown.message, /evt-1 \(db-events\/3@1234\).*20 ms/);
    return true;
  });
  finishLate();
});

test('timeout drops a rejection that arrives after the deadline instead of leaving it unhandled', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));

  const late = new Promise<void>((_, reject) => setTimeout(() => reject(new Error('too late')), 40));
  await assert.rejects(timeout(10)(() => late)(receivedMessage()), { code: ErrorCodes.HANDLER_TIMEOUT });
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(unhandled, []);
});

test('timeout passes through a result that arrives in time and clears its timer', async () => {
  const before = activeTimers();
  let handled = 0;
  await timeout(60_000)(() => {
    handled += 1;
    return Promise.resolve();
  })(receivedMessage());
  assert.equal(handled, 1);
  assert.equal(activeTimers(), before, 'no 60 s timer left behind');
});

test('timeout rethrows an error that arrives in time unchanged and clears its timer', async () => {
  const before = activeTimers();
  const error = permanent();
  await assert.rejects(timeout(60_000)(() => Promise.reject(error))(receivedMessage()), (thrown) => thrown === error);
  assert.equal(activeTimers(), before);
});

test('timeout rejects a deadline that is not a positive number when it is built', () => {
  const isConfigError = (thrown: unknown) => thrown instanceof KitsuneError && thrown.code === ErrorCodes.INVALID_CONFIG;
  assert.throws(() => timeout(0), isConfigError);
  assert.throws(() => timeout(Number.POSITIVE_INFINITY), isConfigError);
});
