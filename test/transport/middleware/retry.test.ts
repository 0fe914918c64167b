import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, KitsuneError } from '../../../src/errors.ts';
import { retry } from '../../../src/transport/middleware/retry.ts';
import type { RetryInfo, RetryOptions } from '../../../src/transport/middleware/retry.ts';
import type { Handler } from '../../../src/transport/types.ts';
import { permanent, receivedMessage, transient } from './fixtures.ts';

/** A retry whose waits are recorded instead of slept. */
function recordingRetry(options: RetryOptions = {}): { wrap: (handler: Handler) => Handler; delays: number[] } {
  const delays: number[] = [];
  const middleware = retry({
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
    ...options,
  });
  return { wrap: middleware, delays };
}

/** A handler that throws the given errors in turn, then resolves. */
function failing(...errors: unknown[]): Handler & { calls: number } {
  const handler = Object.assign(
    () => {
      const error = errors[handler.calls];
      handler.calls += 1;
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- tests throw what they are given
      return error === undefined ? Promise.resolve() : Promise.reject(error);
    },
    { calls: 0 },
  );
  return handler;
}

test('retry stops after maxAttempts and rethrows the last error', async () => {
  const errors = [transient('1'), transient('2'), transient('3')];
  const handler = failing(...errors, transient('never reached'));
  const { wrap, delays } = recordingRetry({ maxAttempts: 3 });

  await assert.rejects(wrap(handler)(receivedMessage()), (error) => error === errors[2]);
  assert.equal(handler.calls, 3);
  assert.equal(delays.length, 2);
});

test('retry resolves as soon as a try succeeds and reports each failed try to onRetry', async () => {
  const handler = failing(transient('a'), transient('b'));
  const infos: RetryInfo[] = [];
  const message = receivedMessage();
  const { wrap } = recordingRetry({ random: () => 0.5, onRetry: (info) => infos.push(info) });

  await wrap(handler)(message);
  assert.equal(handler.calls, 3);
  assert.deepEqual(
    infos.map(({ attempt, delayMs, error }) => ({ attempt, delayMs, reason: error.message })),
    [
      { attempt: 1, delayMs: 50, reason: 'a' },
      { attempt: 2, delayMs: 100, reason: 'b' },
    ],
  );
  assert.equal(infos[0]?.message, message);
});

test('retry waits a full-jitter delay whose ceiling doubles each try up to maxDelayMs', async () => {
  const options = { maxAttempts: 8, initialDelayMs: 100, maxDelayMs: 1_000 };
  const ceilings = [100, 200, 400, 800, 1_000, 1_000, 1_000];
  const errors = () => Array.from({ length: 8 }, () => transient());

  const highest = recordingRetry({ ...options, random: () => 0.999_999 });
  await assert.rejects(highest.wrap(failing(...errors()))(receivedMessage()));
  assert.deepEqual(highest.delays, [99, 199, 399, 799, 999, 999, 999]);

  const lowest = recordingRetry({ ...options, random: () => 0 });
  await assert.rejects(lowest.wrap(failing(...errors()))(receivedMessage()));
  assert.deepEqual(lowest.delays, [0, 0, 0, 0, 0, 0, 0]);

  const draws = [0.9, 0.1, 0.7, 0.3, 0.5, 0.05, 0.95];
  const mixed = recordingRetry({ ...options, random: () => draws.shift() ?? 0 });
  await assert.rejects(mixed.wrap(failing(...errors()))(receivedMessage()));
  assert.deepEqual(mixed.delays, [90, 20, 280, 240, 500, 50, 950]);
  mixed.delays.forEach((delay, i) => assert.ok(delay >= 0 && delay <= (ceilings[i] ?? 0), `delay ${i} = ${delay}`));
});

test('retry rethrows a non-retryable error at once without waiting', async () => {
  const error = permanent();
  const handler = failing(error);
  const { wrap, delays } = recordingRetry();

  await assert.rejects(wrap(handler)(receivedMessage()), (thrown) => thrown === error);
  assert.equal(handler.calls, 1);
  assert.deepEqual(delays, []);
});

test('retry treats errors without retryable: true, strings included, as permanent', async () => {
  const handler = failing(new Error('plain'), 'a string');
  const { wrap } = recordingRetry();

  await assert.rejects(wrap(handler)(receivedMessage()), { message: 'plain' });
  await assert.rejects(wrap(handler)(receivedMessage()), (thrown) => thrown === 'a string');
  assert.equal(handler.calls, 2);
});

test('retry waits at least the retryAfterMs an error carries, even beyond maxDelayMs', async () => {
  const throttled = Object.assign(transient('429 Too Many Requests'), { retryAfterMs: 15_000 });
  const short = Object.assign(transient('429 Too Many Requests'), { retryAfterMs: 10 });
  const { wrap, delays } = recordingRetry({ random: () => 0.5, initialDelayMs: 100, maxDelayMs: 10_000 });

  await wrap(failing(throttled, short))(receivedMessage());
  assert.deepEqual(delays, [15_000, 100]);
});

// The backoff is 59 s, longer than the test may take: only the abort can end the wait in time.
test('retry stops waiting and rethrows the last error when its signal aborts', { timeout: 30_000 }, async () => {
  const controller = new AbortController();
  const error = transient();
  const handler = failing(error, transient('never reached'));
  setTimeout(() => controller.abort(), 20);

  const wrapped = retry({ initialDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.99, signal: controller.signal });
  await assert.rejects(wrapped(handler)(receivedMessage()), (thrown) => thrown === error);
  assert.equal(handler.calls, 1);
});

test('retry does not retry once its signal has aborted', async () => {
  const controller = new AbortController();
  controller.abort();
  const error = transient();
  const handler = failing(error);
  const { wrap, delays } = recordingRetry({ signal: controller.signal });

  await assert.rejects(wrap(handler)(receivedMessage()), (thrown) => thrown === error);
  assert.equal(handler.calls, 1);
  assert.deepEqual(delays, []);
});

test('retry ignores an onRetry hook that throws', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  // Replace Node's default printer for the duration of the test, so the expected warning is not noise.
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', onWarning);
  t.after(() => {
    process.off('warning', onWarning);
    for (const printer of printers) process.on('warning', printer);
  });

  const handler = failing(transient());
  const { wrap } = recordingRetry({
    onRetry: () => {
      throw new Error('metrics exploded');
    },
  });
  await wrap(handler)(receivedMessage());
  assert.equal(handler.calls, 2);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(warnings[0]?.message, 'metrics exploded');
});

test('retry rejects impossible options when it is built', () => {
  const isConfigError = (thrown: unknown) => thrown instanceof KitsuneError && thrown.code === ErrorCodes.INVALID_CONFIG;
  assert.throws(() => retry({ maxAttempts: 0 }), isConfigError);
  assert.throws(() => retry({ maxAttempts: 2.5 }), isConfigError);
  assert.throws(() => retry({ initialDelayMs: Number.NaN }), isConfigError);
  assert.throws(() => retry({ initialDelayMs: 500, maxDelayMs: 100 }), isConfigError);
});
