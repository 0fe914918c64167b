/**
 * Retries transient failures in-process, before the transport's redelivery is involved.
 *
 * Limits: a retry holds its partition (later messages of that partition wait), so the total
 * backoff should stay well under the consumer's session/poll deadlines. `message.attempt` is the
 * transport's delivery count; the tries made here do not change it (onRetry reports them).
 */
import { isRetryable, toError } from '../../errors.ts';
import type { Middleware, ReceivedMessage } from '../types.ts';
import { checkNumber, runHook } from './support.ts';

/** What onRetry is told before each wait. */
export interface RetryInfo {
  message: ReceivedMessage;
  /** The try that just failed, counting from 1. */
  attempt: number;
  /** How long retry waits before the next try. */
  delayMs: number;
  error: Error;
}

export interface RetryOptions {
  /** Total tries, the first included; 1 turns retrying off. (Default: 5) */
  maxAttempts?: number;
  /** Ceiling of the first wait; each later ceiling doubles. (Default: 100 ms) */
  initialDelayMs?: number;
  /** Highest ceiling; an error's `retryAfterMs` may still ask for longer. (Default: 10_000 ms) */
  maxDelayMs?: number;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. (Default: Math.random) */
  random?: () => number;
  /**
   * Waits `ms`, or less once `signal` aborts (it may resolve or reject then). Injectable so tests
   * do not sleep. (Default: a timer that the signal cuts short)
   */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called before each wait, for logs and metrics; must not throw. (Default: none) */
  onRetry?: (info: RetryInfo) => void;
  /**
   * Aborting it ends the current wait and rethrows the last error, so shutdown is not held up by
   * backoff. The message is then redelivered by the transport. (Default: none)
   */
  signal?: AbortSignal;
}

const defaults = {
  maxAttempts: 5,
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  random: Math.random,
  sleep: sleepUnlessAborted,
} as const satisfies Required<Omit<RetryOptions, 'onRetry' | 'signal'>>;

/**
 * Re-runs `next` while it throws a retryable error (per isRetryable), waiting a full-jitter
 * exponential backoff between tries. Non-retryable errors, and the last error once `maxAttempts`
 * tries failed, are rethrown unchanged.
 */
export function retry(options: RetryOptions = {}): Middleware {
  const maxAttempts = checkNumber('retry', 'maxAttempts', options.maxAttempts ?? defaults.maxAttempts, { min: 1, integer: true });
  const initialDelayMs = checkNumber('retry', 'initialDelayMs', options.initialDelayMs ?? defaults.initialDelayMs, { min: 0 });
  const maxDelayMs = checkNumber('retry', 'maxDelayMs', options.maxDelayMs ?? defaults.maxDelayMs, { min: initialDelayMs });
  const random = options.random ?? defaults.random;
  const sleep = options.sleep ?? defaults.sleep;
  const { onRetry, signal } = options;
  const aborted = (): boolean => signal?.aborted === true;

  return (next) => async (message) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await next(message);
        return;
      } catch (thrown) {
        if (!isRetryable(thrown) || attempt >= maxAttempts || aborted()) throw thrown;
        // Full jitter (AWS, "Exponential Backoff and Jitter"): spreads the retries of many
        // consumers hit by the same outage instead of having them return in lockstep.
        const ceilingMs = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
        const delayMs = Math.max(Math.floor(random() * ceilingMs), retryAfterMs(thrown));
        if (onRetry) runHook('onRetry', () => onRetry({ message, attempt, delayMs, error: toError(thrown) }));
        try {
          await sleep(delayMs, signal);
        } catch (sleepError) {
          if (!aborted()) throw sleepError;
        }
        if (aborted()) throw thrown;
      }
    }
  };
}

/** A server's own estimate (e.g. HTTP Retry-After), carried on the error; 0 when absent. */
function retryAfterMs(error: unknown): number {
  const value = typeof error === 'object' && error !== null ? (error as { retryAfterMs?: unknown }).retryAfterMs : undefined;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

/** Resolves after `ms`, or at once when `signal` aborts; never rejects. */
function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

