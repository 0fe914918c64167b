/**
 * One polled batch of one partition, in one PostgreSQL transaction. For each event the
 * idempotency row and the command's effect commit together, so a crash at any point either
 * applied both or neither; the offsets are committed by the transport afterwards.
 *
 * The batch first runs on the fast path (fast-path.ts: a few round trips for the whole batch);
 * if any statement fails it is rolled back to its savepoint and run again in parts (in-parts.ts):
 * halves on the fast path, down to small parts on the careful path (careful-path.ts: a savepoint
 * per event). Used by the DB worker and by `kitsune dlq replay --dry-run`, which wraps it in a
 * transaction it always rolls back.
 */
import type pg from 'pg';
import type { Registry } from '../commands/index.ts';
import { forgetPreparedStatements, PipelineError, runPipeline, type PipelineResult, type PipelineStatement } from '../db/pipeline.ts';
import type { ReceivedMessage } from '../transport/types.ts';
import { commitApplied } from './careful-path.ts';
import { classifyQueryError, FailureKinds } from './failures.ts';
import { executeOptimistically, planClaim } from './fast-path.ts';
import { applyInParts } from './in-parts.ts';
import { DatabaseUnavailableError, EventRetryError, SetMismatchError } from './outcome.ts';
import { prepare } from './prepare.ts';
import { probeSetStatements } from './set-based.ts';
import * as store from './store.ts';
import { isUuid, type ExecuteOptions, type Outcome, type Prepared } from './types.ts';

/**
 * Runs the batch and returns one outcome per message, in order. Throws DatabaseUnavailableError
 * (nothing committed) or EventRetryError (a prefix committed, its outcomes attached).
 */
export async function executeBatch(pool: pg.Pool, registry: Registry, batch: readonly ReceivedMessage[], options: ExecuteOptions): Promise<Outcome[]> {
  const prepared = batch.map((message) => prepare(message, registry, options.rejected));
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new DatabaseUnavailableError(error);
  }
  // The server ending the session (even as the pool hands the client over) surfaces on the next
  // query, as a connection failure; the 'error' the client emits is heard by the pool (db/pool.ts).
  let broken = false;
  try {
    const ids = prepared.flatMap((p) => (p.event && isUuid(p.event.id) ? [p.event.id] : []));
    await client.query('BEGIN');
    // One round trip opens the batch: a savepoint (rather than ROLLBACK/BEGIN, so falling back
    // stays inside the caller's transaction: the DLQ dry run wraps this whole function in one it
    // always rolls back), the attempts of earlier transient failures, and the fast path's claim.
    const claim = planClaim(prepared);
    let opening: readonly PipelineResult[];
    let fastPathOpen = claim !== undefined;
    try {
      opening = await runPipeline(client, [{ text: 'SAVEPOINT batch' }, store.attemptsGet(ids), ...(claim ? [claim.statement] : [])]);
    } catch (error) {
      // Only a failed claim falls back to the careful path; anything before it fails the batch.
      if (!(error instanceof PipelineError) || error.index < 2 || classifyQueryError(error) === FailureKinds.connection) throw error;
      opening = error.results;
      fastPathOpen = false;
      await client.query('ROLLBACK TO SAVEPOINT batch');
      await forgetPreparedStatements(client);
    }
    const attemptRows = opening[1]!.rows as Array<{ event_id: string; attempts: number }>;
    const previousAttempts = new Map(attemptRows.map((row) => [row.event_id, row.attempts]));
    const attemptsOf = (item: Prepared): number => (previousAttempts.get(item.event?.id ?? '') ?? 0) + 1;
    // Sent with the batch's last statements: the attempts are settled, and waiting API requests look
    // for the results as soon as they commit.
    const closing: PipelineStatement[] = [...(previousAttempts.size > 0 ? [store.attemptsClear([...previousAttempts.keys()])] : []), store.resultsNotify()];
    if (claim && fastPathOpen) {
      await probeSetStatements(client, new Set([...claim.claimable].flatMap((item) => (item.entry ? [item.entry] : []))));
      try {
        const fast = await executeOptimistically(client, prepared, claim, opening[2]!.rows, attemptsOf, closing);
        await client.query('COMMIT');
        return fast;
      } catch (error) {
        if (!(error instanceof SetMismatchError) && classifyQueryError(error) === FailureKinds.connection) throw error;
        // A statement failed: start over event by event, each in its own savepoint. The
        // connection's prepared statements are prepared again on next use, in case one of them
        // failed for being stale (a table changed under its cached plan).
        await client.query('ROLLBACK TO SAVEPOINT batch');
        await forgetPreparedStatements(client);
      }
    }
    // The fast path failed on the whole batch, or could not take it: its halves try again.
    const outcomes: Outcome[] = [];
    const stop = await applyInParts({ client, attemptsOf, options, outcomes }, prepared, 0);
    return await commitApplied(client, pool, prepared, outcomes, stop, closing);
  } catch (error) {
    if (error instanceof EventRetryError) throw error;
    broken = true;
    await client.query('ROLLBACK').catch(() => undefined);
    if (classifyQueryError(error) === FailureKinds.connection) throw new DatabaseUnavailableError(error);
    throw error;
  } finally {
    client.release(broken);
  }
}
