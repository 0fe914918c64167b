/**
 * When the client tries again: Kitsune's backoff (src/backoff.ts: exponential, full jitter), never
 * sooner than the server's Retry-After. Full jitter spreads a crowd of clients that failed
 * together, so they do not come back together.
 */
import { backoffMs } from '../backoff.ts';

export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retrying. (Default: 3) */
  retries: number;
  /** Ceiling of the first backoff; doubles per retry. (Default: 200 ms) */
  baseMs: number;
  /** Largest backoff ceiling. (Default: 5_000 ms) */
  maxMs: number;
  /**
   * A Retry-After longer than this ends the retries with the error (its `retryAfterMs` says how
   * long the server asked for), rather than hold the caller that long. (Default: 60_000 ms)
   */
  maxRetryAfterMs: number;
}

export const retryDefaults = {
  retries: 3,
  baseMs: 200,
  maxMs: 5_000,
  maxRetryAfterMs: 60_000,
} as const satisfies RetryPolicy;

/** Statuses worth another try: overload (429) and the gateway/unavailable family. */
export const retryableStatuses: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/**
 * Delay before retry number `retry`: the Retry-After the server sent, plus jitter so that every
 * client told "5 seconds" does not return in the same millisecond; else plain backoff.
 */
export function retryDelayMs(retry: number, retryAfterMs: number | undefined, policy: RetryPolicy, random: () => number = Math.random): number {
  const jitter = backoffMs(retry, { baseMs: policy.baseMs, maxMs: policy.maxMs, random });
  return retryAfterMs === undefined ? jitter : retryAfterMs + jitter;
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined if absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts. Plain timers: no Node-only API. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  const reason = (): Error => (signal?.reason instanceof Error ? signal.reason : new Error('aborted', { cause: signal?.reason }));
  return new Promise((resolvePause, rejectPause) => {
    if (signal?.aborted) return rejectPause(reason());
    const onAbort = (): void => {
      clearTimeout(timer);
      rejectPause(reason());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolvePause();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
