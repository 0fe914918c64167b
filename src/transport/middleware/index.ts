/**
 * The transport seam's middleware, one behaviour per file. Recommended order, outermost first:
 *
 *   circuitBreaker(breaker)(retry(retryOptions)(deadLetter(dlqOptions)(timeout(ms)(handler))))
 *
 * timeout is innermost so a hang becomes a retryable error like any other; deadLetter sees every
 * failed try and acts only on permanent ones (the message is acknowledged, nothing retries it);
 * retry re-runs transient failures with backoff; the breaker sees only what retry gave up on, and
 * pauses consumption instead of letting an outage burn through every message's retries.
 */
export { retry } from './retry.ts';
export type { RetryInfo, RetryOptions } from './retry.ts';
export { deadLetter, deadLetterMessage, dlqHeaders, dlqReasonMaxLength } from './dead-letter.ts';
export type { DeadLetterInfo, DeadLetterOptions } from './dead-letter.ts';
export { CircuitBreaker, CircuitStates, circuitBreaker } from './circuit-breaker.ts';
export type {
  BreakerTimers,
  CircuitBreakerOptions,
  CircuitState,
  FlowControl,
  StateChangeInfo,
} from './circuit-breaker.ts';
export { timeout } from './timeout.ts';
