import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, KitsuneError, isRetryable } from '../../src/errors.ts';
import { CircuitBreaker, CircuitStates } from '../../src/transport/circuit-breaker.ts';
import type {
  BreakerTimers,
  CircuitBreakerOptions,
  CircuitState,
  FlowControl,
  StateChangeInfo,
} from '../../src/transport/circuit-breaker.ts';
import { flush, permanent, receivedMessage, transient } from './fixtures.ts';
import type { Handler } from '../../src/transport/types.ts';

/** Runs every call of `handler` through `breaker`, as a consumer's handler would. */
const through = (breaker: CircuitBreaker) => (handler: Handler): Handler => (message) => breaker.execute(() => handler(message));

/** Timers that fire only when the test advances the clock. */
function fakeTimers(): BreakerTimers & { advance(ms: number): Promise<void>; pending(): number[] } {
  let now = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; ms: number; callback: () => void }>();
  return {
    setTimeout(callback, ms) {
      nextId += 1;
      timers.set(nextId, { at: now + ms, ms, callback });
      return nextId;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    async advance(ms) {
      now += ms;
      for (const [id, timer] of [...timers].sort(([, a], [, b]) => a.at - b.at)) {
        if (timer.at > now) continue;
        timers.delete(id);
        timer.callback();
        await flush();
      }
      await flush();
    },
    pending: () => [...timers.values()].map((timer) => timer.ms),
  };
}

function recordingControl(): FlowControl & { log: string[] } {
  const log: string[] = [];
  return { log, pause: () => log.push('pause'), resume: () => log.push('resume') };
}

interface Transition {
  from: CircuitState;
  to: CircuitState;
  info: StateChangeInfo;
}

function deferred(): { promise: Promise<void>; resolve(): void; reject(error: Error): void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Follows a promise without awaiting it, so a test can ask whether it has settled yet. */
function track(promise: Promise<unknown>): { settled: boolean; error: unknown; done: Promise<void> } {
  const state = { settled: false, error: undefined as unknown, done: Promise.resolve() };
  state.done = promise.then(
    () => {
      state.settled = true;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}

function setUp(options: CircuitBreakerOptions = {}) {
  const timers = fakeTimers();
  const transitions: Transition[] = [];
  const breaker = new CircuitBreaker({
    failureThreshold: 3,
    openMs: 1_000,
    maxOpenMs: 4_000,
    timers,
    onStateChange: (from, to, info) => transitions.push({ from, to, info }),
    ...options,
  });
  const control = recordingControl();
  breaker.attach(control);
  const fail = (error: Error = transient()) => breaker.execute(() => Promise.reject(error));
  const trip = async () => {
    for (let i = 0; i < 3; i++) await assert.rejects(fail());
    assert.equal(breaker.state, CircuitStates.open);
  };
  return { breaker, timers, transitions, control, fail, trip };
}

test('the breaker opens after failureThreshold consecutive retryable failures and pauses every attached subscription', async () => {
  const { breaker, transitions, control, fail } = setUp();
  const second = recordingControl();
  breaker.attach(second);

  await assert.rejects(fail());
  await assert.rejects(fail());
  assert.equal(breaker.state, CircuitStates.closed);
  assert.deepEqual(control.log, []);

  const third = transient('third');
  await assert.rejects(fail(third), (thrown) => thrown === third);
  assert.equal(breaker.state, CircuitStates.open);
  assert.deepEqual(control.log, ['pause']);
  assert.deepEqual(second.log, ['pause']);
  assert.deepEqual(transitions, [{ from: 'closed', to: 'open', info: { consecutiveFailures: 3, openMs: 1_000, error: third } }]);
});

test('an open breaker makes calls wait, then lets exactly one of them through as the probe', async () => {
  const { breaker, timers, trip } = setUp();
  await trip();
  const probe = deferred();
  let calls = 0;
  const handler = through(breaker)(() => {
    calls += 1;
    return probe.promise;
  });

  const waiting = [track(handler(receivedMessage())), track(handler(receivedMessage())), track(handler(receivedMessage()))];
  await timers.advance(999);
  assert.equal(calls, 0, 'nothing runs during the cool-down');
  assert.equal(waiting.some((call) => call.settled), false, 'no call fails fast');

  await timers.advance(1);
  assert.equal(breaker.state, CircuitStates.halfOpen);
  await flush();
  assert.equal(calls, 1, 'one probe, while the other calls keep waiting');
  assert.equal(waiting.filter((call) => call.settled).length, 0);
});

test('a successful probe closes the breaker, resumes consumption and releases the waiting calls', async () => {
  const { breaker, timers, control, transitions, trip } = setUp();
  await trip();
  const probe = deferred();
  let calls = 0;
  const handler = through(breaker)(() => {
    calls += 1;
    return calls === 1 ? probe.promise : Promise.resolve();
  });
  const waiting = [track(handler(receivedMessage())), track(handler(receivedMessage())), track(handler(receivedMessage()))];
  await timers.advance(1_000);

  probe.resolve();
  await Promise.all(waiting.map((call) => call.done));
  assert.equal(breaker.state, CircuitStates.closed);
  assert.deepEqual(control.log, ['pause', 'resume']);
  assert.equal(calls, 3);
  assert.deepEqual(waiting.map((call) => call.error), [undefined, undefined, undefined]);
  assert.deepEqual(
    transitions.map(({ from, to }) => `${from}->${to}`),
    ['closed->open', 'open->half_open', 'half_open->closed'],
  );
});

test('a failed probe reopens the breaker with double the cool-down, up to maxOpenMs, and rethrows its error', async () => {
  const { breaker, timers, control, transitions, trip } = setUp();
  await trip();
  let down = true;
  const handler = through(breaker)(() => (down ? Promise.reject(transient('still down')) : Promise.resolve()));

  const first = track(handler(receivedMessage()));
  await timers.advance(1_000);
  await first.done;
  assert.ok(first.error instanceof KitsuneError && first.error.message === 'still down', 'the probe error is rethrown');
  assert.equal(breaker.state, CircuitStates.open);
  assert.deepEqual(timers.pending(), [2_000]);

  const second = track(handler(receivedMessage()));
  await timers.advance(1_999);
  assert.equal(second.settled, false, 'no probe before the doubled cool-down ends');
  await timers.advance(1);
  await second.done;
  assert.deepEqual(timers.pending(), [4_000]);

  const third = track(handler(receivedMessage()));
  await timers.advance(4_000);
  await third.done;
  assert.deepEqual(timers.pending(), [4_000], 'capped at maxOpenMs');
  assert.deepEqual(control.log, ['pause'], 'consumption stays paused between probes');

  down = false;
  const fourth = track(handler(receivedMessage()));
  await timers.advance(4_000);
  await fourth.done;
  assert.equal(fourth.error, undefined);
  assert.equal(breaker.state, CircuitStates.closed);
  assert.deepEqual(
    transitions.filter(({ to }) => to === 'open').map(({ info }) => info.openMs),
    [1_000, 2_000, 4_000, 4_000],
  );

  await trip();
  assert.deepEqual(timers.pending(), [1_000], 'the cool-down starts over after the circuit closed');
});

test('non-retryable errors do not trip the breaker, nor reset its count of failures', async () => {
  const { breaker, fail } = setUp();
  await assert.rejects(fail());
  await assert.rejects(fail());
  for (let i = 0; i < 10; i++) {
    const error = permanent();
    await assert.rejects(fail(error), (thrown) => thrown === error);
  }
  assert.equal(breaker.state, CircuitStates.closed);

  await assert.rejects(fail());
  assert.equal(breaker.state, CircuitStates.open);
});

test('with counts, only the dependency\'s own failures trip the breaker: another retryable failure neither counts nor resets', async () => {
  const outage = (): KitsuneError => new KitsuneError(ErrorCodes.UNAVAILABLE, 'PostgreSQL is unavailable', { retryable: true });
  const isOutage = (error: unknown): boolean => error instanceof KitsuneError && error.message.startsWith('PostgreSQL');
  const { breaker, fail } = setUp({ counts: isOutage });
  await assert.rejects(fail(outage()));
  await assert.rejects(fail(outage()));
  for (let i = 0; i < 10; i++) await assert.rejects(fail(new KitsuneError(ErrorCodes.PUBLISH_FAILED, 'the broker did not answer', { retryable: true })));
  assert.equal(breaker.state, CircuitStates.closed, 'a failed publish or a lock timeout is not a database outage');
  await assert.rejects(fail(outage()));
  assert.equal(breaker.state, CircuitStates.open);
});

test('a success resets the count of consecutive failures', async () => {
  const { breaker, fail } = setUp();
  await assert.rejects(fail());
  await assert.rejects(fail());
  await breaker.execute(() => Promise.resolve());
  await assert.rejects(fail());
  await assert.rejects(fail());
  assert.equal(breaker.state, CircuitStates.closed);
});

test('a call that started before the circuit opened does not count against the next closed period', async () => {
  const { breaker, timers, trip, fail } = setUp();
  const slow = deferred();
  const late = track(breaker.execute(() => slow.promise));
  await trip();
  const probe = track(breaker.execute(() => Promise.resolve()));
  await timers.advance(1_000);
  await probe.done;
  assert.equal(breaker.state, CircuitStates.closed);

  slow.reject(transient('late failure'));
  await late.done;
  await assert.rejects(fail());
  await assert.rejects(fail());
  assert.equal(breaker.state, CircuitStates.closed, 'two failures of this period, not three');
});

test('close() releases waiting calls with a retryable CIRCUIT_OPEN error and stops the cool-down timer', async () => {
  const { breaker, timers, trip } = setUp();
  await trip();
  let calls = 0;
  const work = () => {
    calls += 1;
    return Promise.resolve();
  };
  const waiting = [track(breaker.execute(work)), track(breaker.execute(work))];
  await flush();

  breaker.close();
  breaker.close();
  await Promise.all(waiting.map((call) => call.done));
  for (const call of waiting) {
    assert.ok(call.error instanceof KitsuneError);
    assert.equal(call.error.code, ErrorCodes.CIRCUIT_OPEN);
    assert.equal(isRetryable(call.error), true);
  }
  assert.deepEqual(timers.pending(), []);
  await assert.rejects(breaker.execute(work), { code: ErrorCodes.CIRCUIT_OPEN });
  assert.equal(calls, 0);
});

test('with a probe function the breaker checks the dependency instead of letting a message through', async () => {
  let healthy = false;
  let probes = 0;
  const { breaker, timers, control, trip } = setUp({
    probe: () => {
      probes += 1;
      return healthy ? Promise.resolve() : Promise.reject(transient('SELECT 1 failed'));
    },
  });
  await trip();
  let calls = 0;
  const waiting = track(
    breaker.execute(() => {
      calls += 1;
      return Promise.resolve();
    }),
  );

  await timers.advance(1_000);
  assert.equal(probes, 1);
  assert.equal(calls, 0, 'the waiting call is not used as a probe');
  assert.equal(breaker.state, CircuitStates.open);
  assert.deepEqual(timers.pending(), [2_000]);

  healthy = true;
  await timers.advance(2_000);
  await waiting.done;
  assert.equal(probes, 2);
  assert.equal(breaker.state, CircuitStates.closed);
  assert.equal(calls, 1);
  assert.equal(waiting.error, undefined);
  assert.deepEqual(control.log, ['pause', 'resume']);
});

test('a half-open breaker with no waiting call resumes consumption so that a message can probe', async () => {
  const { breaker, timers, control, trip } = setUp();
  await trip();
  await timers.advance(1_000);
  assert.equal(breaker.state, CircuitStates.halfOpen);
  assert.deepEqual(control.log, ['pause', 'resume']);

  await assert.rejects(breaker.execute(() => Promise.reject(transient())));
  assert.equal(breaker.state, CircuitStates.open);
  assert.deepEqual(control.log, ['pause', 'resume', 'pause']);
});

test('a subscription attached while the circuit is open is paused at once, and a detached one is left alone', async () => {
  const { breaker, timers, trip } = setUp();
  await trip();
  const late = recordingControl();
  const detach = breaker.attach(late);
  assert.deepEqual(late.log, ['pause']);

  detach();
  const probe = track(breaker.execute(() => Promise.resolve()));
  await timers.advance(1_000);
  await probe.done;
  assert.equal(breaker.state, CircuitStates.closed);
  assert.deepEqual(late.log, ['pause']);
});

test('the breaker rejects impossible options when it is built', () => {
  const isConfigError = (thrown: unknown) => thrown instanceof KitsuneError && thrown.code === ErrorCodes.INVALID_CONFIG;
  assert.throws(() => new CircuitBreaker({ failureThreshold: 0 }), isConfigError);
  assert.throws(() => new CircuitBreaker({ openMs: 10_000, maxOpenMs: 5_000 }), isConfigError);
});
