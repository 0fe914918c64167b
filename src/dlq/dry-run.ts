/**
 * `kitsune dlq replay --dry-run`: the DB worker's own executeBatch, run on a connection whose
 * transaction control is ours. Its BEGIN, COMMIT and ROLLBACK are swallowed; our transaction
 * wraps every call and is rolled back at the end. So the prediction runs exactly the worker's
 * code (idempotency check, the command's SQL with its bound values, savepoint per event) and
 * nothing of it can commit.
 *
 * Events run in DLQ order in the one transaction, so each sees the effects of those before it,
 * as the worker would. Limits: it sees the database as it is now (events still in flight on
 * db-events are not applied); it holds row locks until the rollback (bounded by lock_timeout
 * 2 s, statement_timeout 30 s); sequences advance (nextval is never rolled back).
 */
import type pg from 'pg';
import type { Registry } from '../commands/index.ts';
import { Pipeline } from '../db/pipeline.ts';
import { executeBatch, OutcomeStatuses, type Outcome } from '../execution/index.ts';
import type { DeadLetter } from './records.ts';
import { queries } from './state.ts';

/** BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT; not ROLLBACK TO SAVEPOINT. */
const transactionControl = /^\s*(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ABORT|ROLLBACK)\b/i;
const savepointRollback = /^\s*ROLLBACK\s+(?:WORK\s+|TRANSACTION\s+)?TO\b/i;
const refused = /^\s*PREPARE\s+TRANSACTION\b/i;

type QueryText = string | { text: string };

const emptyResult = (): pg.QueryResult => ({ command: '', rowCount: 0, oid: 0, fields: [], rows: [] });

/** A pool whose one client runs inside the caller's transaction and cannot end it. */
function rollbackOnlyPool(client: pg.PoolClient): pg.Pool {
  const query = (text: QueryText | Pipeline, values?: unknown[]): Promise<pg.QueryResult> | Pipeline => {
    if (text instanceof Pipeline) {
      const ends = text.statements.some((s) => refused.test(s.text) || (transactionControl.test(s.text) && !savepointRollback.test(s.text)));
      if (ends) text.handleError(new Error('a dry run cannot end its transaction from a pipeline'));
      else client.query(text);
      return text;
    }
    const sql = typeof text === 'string' ? text : text.text;
    if (refused.test(sql)) return Promise.reject(new Error('a dry run cannot prepare a transaction'));
    if (transactionControl.test(sql) && !savepointRollback.test(sql)) return Promise.resolve(emptyResult());
    return client.query(text as string, values);
  };
  const guarded = new Proxy(client, {
    get(target, property) {
      if (property === 'query') return query;
      if (property === 'release') return () => undefined;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  // executeBatch uses pool.query only to count a transient failure outside the transaction; a
  // dry run must not count anything.
  return { connect: () => Promise.resolve(guarded), query: () => Promise.resolve(emptyResult()) } as unknown as pg.Pool;
}

export interface DryRunOutcome {
  letter: DeadLetter;
  /** succeeded, duplicate, conflict or dead_lettered, as the worker would record it. */
  status: Outcome['status'];
  reason: string | undefined;
  sqlstate: string | undefined;
  /** True when the failure is transient (lock timeout, serialization): it may well succeed later. */
  transient: boolean;
}

/** Predicts what the DB worker would do with each letter, in order, and rolls everything back. */
export async function dryRun(pool: pg.Pool, registry: Registry, letters: readonly DeadLetter[]): Promise<DryRunOutcome[]> {
  if (letters.length === 0) return [];
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query(queries.DryRunLimits);
    // maxTransientAttempts 1: a transient failure is reported at once instead of retried.
    const outcomes = await executeBatch(rollbackOnlyPool(client), registry, letters.map((l) => l.message), { maxTransientAttempts: 1 });
    return outcomes.map((outcome, index) => ({
      letter: letters[index]!,
      status: outcome.status,
      reason: outcome.failure?.reason,
      sqlstate: outcome.failure?.sqlstate,
      transient: outcome.failure?.code === 'KITSUNE_RETRIES_EXHAUSTED',
    }));
  } catch (error) {
    broken = error as Error;
    throw error;
  } finally {
    await client.query('ROLLBACK').catch((error: unknown) => {
      broken = error as Error;
    });
    client.release(broken);
  }
}

/** True for outcomes that a real replay would turn into an effect. */
export const wouldSucceed = (outcome: DryRunOutcome): boolean => outcome.status === OutcomeStatuses.succeeded;
