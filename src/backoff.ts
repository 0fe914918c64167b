/**
 * Kitsune's one backoff formula, wherever something is tried again: the DB worker's batches, the
 * log worker's PostgreSQL sink, the Loki client's pushes, the typed client's requests, the
 * notification listener, and a role waiting at start-up for PostgreSQL or Kafka. Each has its own
 * policy (its numbers); the formula is this one.
 *
 * Exponential backoff with full jitter (AWS, "Exponential Backoff and Jitter"): the wait after
 * failed try n is uniform in [0, min(maxMs, baseMs · 2^(n-1))). Processes hit by the same outage
 * do not come back in lockstep. Pure: no timers and no Node-only API, so the typed client (a
 * package export that may run in a browser) shares it.
 */
export interface BackoffPolicy {
  /** Ceiling of the first wait; each later ceiling doubles. */
  baseMs: number;
  /** Highest ceiling. */
  maxMs: number;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. (Default: Math.random) */
  random?: () => number;
}

/** The ceiling of the wait after failed try `attempt` (from 1). 2^30 bounds the exponent so a long outage cannot overflow it. */
export function backoffCeilingMs(attempt: number, policy: Pick<BackoffPolicy, 'baseMs' | 'maxMs'>): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
}

/** The wait, in whole milliseconds, after failed try `attempt` (from 1). */
export function backoffMs(attempt: number, policy: BackoffPolicy): number {
  return Math.floor((policy.random ?? Math.random)() * backoffCeilingMs(attempt, policy));
}

/** Resolves after `ms`, or as soon as `signal` aborts; never rejects. */
export function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
