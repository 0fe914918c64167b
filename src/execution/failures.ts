/**
 * How the batch executor routes a failure, read from SQLSTATE and error properties, never from message
 * text (PostgreSQL localises messages; SQLSTATEs are stable).
 */
export const FailureKinds = {
  /** The event itself is wrong (data, constraint, syntax, schema): dead-letter at once. */
  permanent: 'permanent',
  /** The statement may succeed if run again (serialization, deadlock, resources): retry this event. */
  transient: 'transient',
  /** The connection or server is gone; the transaction is lost: retry the whole batch, feed the breaker. */
  connection: 'connection',
} as const;

export type FailureKind = (typeof FailureKinds)[keyof typeof FailureKinds];

const transientStates = new Set(['40001', '40P01', '55P03', '57014']);
const connectionStates = new Set(['57P01', '57P02', '57P03']);
const sqlstatePattern = /^[0-9A-Z]{5}$/;

/** The SQLSTATE of a PostgreSQL error, or of the error it wraps (a pipeline's failed statement), if it has one. */
export function sqlstateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, cause } = error as { code?: unknown; cause?: unknown };
  if (typeof code === 'string' && sqlstatePattern.test(code)) return code;
  return cause === undefined || cause === error ? undefined : sqlstateOf(cause);
}

/**
 * Classifies an error thrown by a query. Errors without a SQLSTATE come from the driver or the
 * network (refused, reset, "connection terminated"), so they are connection failures.
 */
export function classifyQueryError(error: unknown): FailureKind {
  const state = sqlstateOf(error);
  if (state === undefined) return FailureKinds.connection;
  if (state.startsWith('08') || connectionStates.has(state)) return FailureKinds.connection;
  if (transientStates.has(state) || state.startsWith('53') || state.startsWith('58')) return FailureKinds.transient;
  return FailureKinds.permanent;
}
