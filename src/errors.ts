/**
 * Kitsune's errors: every one has a `code` from the closed list below and a `retryable` flag.
 * Policy (retry, dead-letter, HTTP status) reads these properties, never message text.
 */
export const ErrorCodes = {
  /** publish/subscribe after close(). */
  TRANSPORT_CLOSED: 'KITSUNE_TRANSPORT_CLOSED',
  /** The broker did not accept a publish (may succeed if tried again). */
  PUBLISH_FAILED: 'KITSUNE_PUBLISH_FAILED',
  /** The circuit breaker is open; the work was not attempted. */
  CIRCUIT_OPEN: 'KITSUNE_CIRCUIT_OPEN',
  /** Bad configuration, found at startup. */
  INVALID_CONFIG: 'KITSUNE_INVALID_CONFIG',
  /** A message that can never be handled as it is (bad bytes, unknown command, schema). */
  INVALID_MESSAGE: 'KITSUNE_INVALID_MESSAGE',
  /** A dependency is down or overloaded; trying again later may work. */
  UNAVAILABLE: 'KITSUNE_UNAVAILABLE',
  /** The command registry file is malformed; every problem found is listed on the error. */
  REGISTRY_INVALID: 'KITSUNE_REGISTRY_INVALID',
  /** The schema registry refused a command's schema (changed under its version, incompatible). */
  SCHEMA_REFUSED: 'KITSUNE_SCHEMA_REFUSED',
  /** The embedded PostgreSQL cannot be set up or started on this machine; the message says what to do. */
  EMBEDDED_POSTGRES_FAILED: 'KITSUNE_EMBEDDED_POSTGRES_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class KitsuneError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KitsuneError';
    this.code = code;
    this.retryable = options.retryable;
  }
}

/** Coerces anything thrown into an Error, at the boundary where it is caught. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : `non-error thrown: ${String(thrown)}`, { cause: thrown });
}

/**
 * True only for errors that say they are worth retrying. Anything else (a bug, a bad payload, an
 * error from a library we have not classified) is permanent, so it is dead-lettered with its
 * reason instead of looping.
 */
export function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}

export function transportClosed(what: string): KitsuneError {
  return new KitsuneError(ErrorCodes.TRANSPORT_CLOSED, `${what}: the transport is closed`, { retryable: false });
}
