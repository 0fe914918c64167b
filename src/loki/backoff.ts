/**
 * Waits between tries of a push: full-jitter exponential backoff, the formula of
 * transport/middleware/retry.ts (which wraps message handlers and so cannot wrap a push), with a
 * server's Retry-After as the floor.
 */
import { checkNumber } from '../checks.ts';

export interface BackoffOptions {
  /** Ceiling of the first wait; each later ceiling doubles. (Default: 250 ms) */
  initialDelayMs?: number;
  /** Highest ceiling; Retry-After may still ask for longer (see client.ts's cap). (Default: 10_000 ms) */
  maxDelayMs?: number;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. (Default: Math.random) */
  random?: () => number;
}

export const backoffDefaults = {
  initialDelayMs: 250,
  maxDelayMs: 10_000,
  random: Math.random,
} as const satisfies Required<BackoffOptions>;

/** Returns the delay before try `attempt + 1`, after try `attempt` (from 1) failed. */
export function createBackoff(options: BackoffOptions = {}): (attempt: number, retryAfterMs: number | undefined) => number {
  const initialDelayMs = checkNumber('loki backoff', 'initialDelayMs', options.initialDelayMs ?? backoffDefaults.initialDelayMs, { min: 0 });
  const maxDelayMs = checkNumber('loki backoff', 'maxDelayMs', options.maxDelayMs ?? backoffDefaults.maxDelayMs, { min: initialDelayMs });
  const random = options.random ?? backoffDefaults.random;
  return (attempt, retryAfterMs) => {
    // Full jitter (AWS, "Exponential Backoff and Jitter"): workers hit by the same outage do not
    // come back in lockstep. 2 ** 30 bounds the exponent so a long outage cannot overflow it.
    const ceilingMs = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt - 1, 30));
    return Math.max(Math.floor(random() * ceilingMs), retryAfterMs ?? 0);
  };
}

/** Resolves after `ms`, or as soon as `signal` aborts; never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
