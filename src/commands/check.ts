/**
 * `kitsune commands check`: has PostgreSQL PREPARE every registered statement. PREPARE parses,
 * resolves tables, columns and types, and plans, without executing; so a typo'd column (42703), a
 * missing table (42P01) or a parameter whose type cannot be inferred (42P18) shows up at deploy
 * time instead of as dead letters. compileSql allows one statement per command, so nothing can
 * ride along behind the PREPARE.
 *
 * Limits: it checks against what the connection sees now (its search_path, its schema version).
 * Privileges are checked when a statement runs, not when it is prepared, so a missing GRANT is
 * not found here. Costs one round trip per statement, plus one to DEALLOCATE it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ErrorCodes, KitsuneError, toError } from '../errors.ts';
import type { Registry } from './registry.ts';

export interface CheckFailure {
  readonly command: string;
  readonly version: string;
  /** PostgreSQL's error code: 42703 undefined column, 42P01 undefined table, 42601 syntax, ... */
  readonly sqlstate: string;
  readonly message: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  /** The registry file, and the line PostgreSQL pointed at (else the version's line). */
  readonly source: string;
  readonly line: number;
}

/** Connection, shutdown and resource classes: the database, not the statement, is the problem. */
const unavailableClasses = new Set(['08', '53', '57']);

/**
 * Prepares (then deallocates) every entry's statement on one session and returns every failure,
 * in registry order; an empty array means all passed. Throws a retryable KitsuneError when the
 * database itself fails (no connection, shutdown), since then no statement was really checked.
 * Give it a pool, or an idle client.
 */
export async function checkRegistry(registry: Registry, db: pg.Pool | pg.ClientBase): Promise<CheckFailure[]> {
  const pooled = db instanceof pg.Pool ? await db.connect().catch(unavailable) : undefined;
  const client = pooled ?? (db as pg.ClientBase);
  const name = `kitsune_check_${randomBytes(6).toString('hex')}`;
  const prefix = `PREPARE ${name} AS `;
  let broken: Error | undefined;
  try {
    const failures: CheckFailure[] = [];
    for (const entry of registry.entries()) {
      try {
        await client.query(prefix + entry.text);
      } catch (thrown) {
        // Only an error the server sent has a SQLSTATE; socket errors (EPIPE, ...) have look-alike codes.
        if (!(thrown instanceof pg.DatabaseError) || thrown.code === undefined) unavailable(thrown);
        const sqlstate = thrown.code;
        if (unavailableClasses.has(sqlstate.slice(0, 2))) unavailable(thrown);
        const offset = Number(thrown.position) - 1 - prefix.length;
        const inText = Number.isInteger(offset) && offset >= 0 && offset < entry.text.length;
        failures.push({
          command: entry.command,
          version: entry.version,
          sqlstate,
          message: thrown.message,
          detail: thrown.detail,
          hint: thrown.hint,
          source: entry.origin.source,
          line: inText ? entry.origin.lineOfText(offset) : entry.origin.line,
        });
        continue;
      }
      await client.query(`DEALLOCATE ${name}`);
    }
    return failures;
  } catch (error) {
    broken = toError(error);
    throw error;
  } finally {
    // A client whose connection failed must not go back to the pool.
    pooled?.release(broken);
  }
}

function unavailable(thrown: unknown): never {
  const message = `commands check: the database failed: ${toError(thrown).message}`;
  throw new KitsuneError(ErrorCodes.UNAVAILABLE, message, { retryable: true, cause: thrown });
}

/** `registry.yaml:14: command create_user version 1: column "nmae" does not exist (SQLSTATE 42703)` */
export function formatCheckFailure(failure: CheckFailure): string {
  const hint = failure.hint === undefined ? '' : `; hint: ${failure.hint}`;
  const subject = `command ${failure.command} version ${failure.version}`;
  return `${failure.source}:${failure.line}: ${subject}: ${failure.message} (SQLSTATE ${failure.sqlstate})${hint}`;
}
