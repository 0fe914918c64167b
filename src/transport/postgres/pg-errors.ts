/**
 * Classifies PostgreSQL failures by SQLSTATE (never by message text), as DESIGN.md §4 asks:
 * connection, shutdown and resource classes and serialization/deadlock failures are worth
 * retrying; data, constraint and syntax errors are not.
 */
import pg from 'pg';

const transientClasses = ['08', '53', '57P01', '57P02', '57P03', '57P04', '40001', '40P01'] as const;

/** True when trying the same statement again later may succeed. */
export function isTransient(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) {
    const code = error.code ?? '';
    return transientClasses.some((prefix) => code.startsWith(prefix));
  }
  // Not a server error: a programming error is permanent; anything else from pg without a
  // SQLSTATE is the socket failing (ECONNREFUSED, ECONNRESET, "Connection terminated").
  return !(error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError || error instanceof SyntaxError);
}
