/**
 * How a push can fail, as a closed list. Policy (retry, bisect, dead-letter) and metrics read
 * `failure` and `retryable`, never the text: Loki does not promise its error wording.
 */
import { ErrorCodes, KitsuneError } from '../errors.ts';

export const LokiFailures = {
  /** 400: Loki refused some entries (line too long, too old, bad labels...). Bisect to find them. */
  rejected: 'rejected',
  /** 413: the push body is over Loki's receive limit. Bisect; a single entry over it is rejected. */
  tooLarge: 'too_large',
  /** 429: tenant or stream rate limit. Retry, honouring Retry-After when a gateway sends one. */
  rateLimited: 'rate_limited',
  /** 5xx. Retry. */
  serverError: 'server_error',
  /** No answer within the client timeout (a hung push). Retry. */
  timeout: 'timeout',
  /** Connection refused, reset, DNS... Retry. */
  network: 'network',
  /**
   * Any other status (401, 403, 404, 415...): a configuration problem (tenant, URL, auth), not the
   * entries' fault. Retried, so a misconfigured worker holds its lines instead of dead-lettering them.
   */
  unexpectedStatus: 'unexpected_status',
} as const;

export type LokiFailure = (typeof LokiFailures)[keyof typeof LokiFailures];

/** Failures that say something about the entries, not about Loki's health. */
const entryFailures = new Set<LokiFailure>([LokiFailures.rejected, LokiFailures.tooLarge]);

export class LokiPushError extends KitsuneError {
  readonly failure: LokiFailure;
  /** HTTP status, when Loki answered. */
  readonly status: number | undefined;
  /** From Retry-After, in ms; read by the backoff. */
  readonly retryAfterMs: number | undefined;

  constructor(
    failure: LokiFailure,
    message: string,
    options: { status?: number | undefined; retryAfterMs?: number | undefined; cause?: unknown } = {},
  ) {
    const retryable = !entryFailures.has(failure);
    super(retryable ? ErrorCodes.UNAVAILABLE : ErrorCodes.INVALID_MESSAGE, message, { retryable, cause: options.cause });
    this.name = 'LokiPushError';
    this.failure = failure;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The failure class of an HTTP status that is not a success. */
export function failureOfStatus(status: number): LokiFailure {
  if (status === 400) return LokiFailures.rejected;
  if (status === 413) return LokiFailures.tooLarge;
  if (status === 429) return LokiFailures.rateLimited;
  if (status >= 500) return LokiFailures.serverError;
  return LokiFailures.unexpectedStatus;
}
