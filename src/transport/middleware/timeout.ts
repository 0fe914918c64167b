/**
 * Turns a hung handler into a retryable failure, so a stuck dependency shows up as errors (and
 * trips the breaker) instead of a partition that silently stops moving.
 */
import { ErrorCodes, KitsuneError } from '../../errors.ts';
import type { Middleware } from '../types.ts';
import { checkNumber } from './support.ts';

/**
 * Rejects with a retryable HANDLER_TIMEOUT error if `next` has not settled within `ms`; otherwise
 * settles as `next` did. Limit: JavaScript cannot cancel a promise, so the timed-out handler keeps
 * running, and may still write, while the message is retried or redelivered. Handlers must be
 * idempotent (the DB worker's idempotency row is what makes that safe); its late result is dropped.
 */
export function timeout(ms: number): Middleware {
  checkNumber('timeout', 'ms', ms, { min: 1 });
  return (next) => async (message) => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const where = `${message.topic}/${message.partition}@${message.offset}`;
        const text = `handler for message ${message.id} (${where}) did not settle within ${ms} ms`;
        reject(new KitsuneError(ErrorCodes.HANDLER_TIMEOUT, text, { retryable: true }));
      }, ms);
    });
    try {
      // race() subscribes to both, so a rejection of the handler after the deadline is handled
      // (dropped), not an unhandled rejection.
      await Promise.race([next(message), deadline]);
    } finally {
      clearTimeout(timer);
    }
  };
}
