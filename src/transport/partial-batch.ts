/**
 * Thrown by a BatchHandler that finished the first `acknowledged` messages of its batch (their
 * effects are committed) and needs the rest redelivered, in order. The transport commits the
 * finished prefix and redelivers only the remainder, so finished work is not handed back.
 */
export class PartialBatchError extends Error {
  readonly acknowledged: number;
  /** Retryable by construction: the remainder is redelivered. */
  readonly retryable = true;

  constructor(acknowledged: number, cause: unknown) {
    super(`batch stopped after ${acknowledged} acknowledged message(s)`, { cause });
    this.name = 'PartialBatchError';
    this.acknowledged = acknowledged;
  }
}
