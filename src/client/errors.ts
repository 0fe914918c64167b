/**
 * The client's one error type. `code` is the API's own code when the API answered with a Kitsune
 * error body (`invalid_payload`, `broker_unavailable`, ...), else one of ClientErrorCodes. Callers
 * branch on `code`, `status` and `retryable`, never on the message.
 */
import type { ApiErrorCode, FieldError } from '../contract/http.ts';

export const ClientErrorCodes = {
  /** No answer: connection refused or reset, DNS, TLS. `status` is 0. */
  network: 'network_error',
  /** No answer within `timeoutMs`. The request may still have been accepted: retry with the same key. */
  timeout: 'timeout',
  /** The caller's signal aborted the call. */
  aborted: 'aborted',
  /** A 2xx whose body is not what the API documents (a proxy in the way, or a different server). */
  invalidResponse: 'invalid_response',
  /** A non-2xx without a Kitsune error body. */
  http: 'http_error',
} as const;

export type ClientErrorCode = (typeof ClientErrorCodes)[keyof typeof ClientErrorCodes];

/** A code from a newer server than this client passes through as it came. */
export type KitsuneClientErrorCode = ApiErrorCode | ClientErrorCode;

export interface KitsuneClientErrorDetails {
  code: KitsuneClientErrorCode;
  /** HTTP status of the last answer; 0 when there was none. */
  status: number;
  retryable: boolean;
  /** Requests sent, retries included. */
  attempts: number;
  /** The key every attempt carried (execute only), so the caller can retry later without doubling. */
  idempotencyKey?: string | undefined;
  /**
   * The event the API named in its answer (a 503 after the event may have been written): look it
   * up with getEvent, or retry with idempotencyKey, which is the same event.
   */
  eventId?: string | undefined;
  /** JSON Pointer of the field at fault, when the API named one. */
  field?: string | undefined;
  errors?: FieldError[] | undefined;
  /** What the server's Retry-After asked for, in ms. */
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

export class KitsuneClientError extends Error {
  readonly code: KitsuneClientErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly attempts: number;
  readonly idempotencyKey: string | undefined;
  readonly eventId: string | undefined;
  readonly field: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: KitsuneClientErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'KitsuneClientError';
    this.code = details.code;
    this.status = details.status;
    this.retryable = details.retryable;
    this.attempts = details.attempts;
    this.idempotencyKey = details.idempotencyKey;
    this.eventId = details.eventId;
    this.field = details.field;
    this.errors = details.errors;
    this.retryAfterMs = details.retryAfterMs;
  }
}
