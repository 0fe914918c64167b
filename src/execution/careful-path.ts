/**
 * The careful path: the batch event by event, each in its own savepoint, so one failing statement
 * costs only its own event. About five round trips per event; the fast path falls back to it.
 *
 * Per-entity order: an event that fails transiently stops the batch there. Events before it are
 * committed; it and everything after it are redelivered (EventRetryError), so no later event of
 * the partition overtakes it.
 */
import type pg from 'pg';
import { runPipeline, type PipelineStatement } from '../db/pipeline.ts';
import { storable } from '../events/text.ts';
import { toError } from '../errors.ts';
import { classifyQueryError, FailureKinds, sqlstateOf } from './failures.ts';
import { conflictOutcome, deadLetterRecord, EventRetryError, failureOf, rejectedRecord, type DeadLetterRecord } from './outcome.ts';
import * as store from './store.ts';
import { isExecutable, isUuid, OutcomeStatuses, type Executable, type ExecuteOptions, type Outcome, type Prepared } from './types.ts';

async function executeOne(client: pg.PoolClient, item: Executable, attempts: number): Promise<Outcome> {
  const { message, event, entry, values, hash } = item;
  const base = { message, event, eventId: event.id, attempts };
  const inserted = await store.run(client, store.idempotencyInsert(item));
  if (inserted.rowCount === 0) {
    const { rows } = await store.run<{ event_id: string; payload_hash: Buffer }>(client, store.idempotencyGet(event));
    const original = rows[0];
    if (original && original.payload_hash.equals(hash)) return { ...base, eventId: original.event_id, status: OutcomeStatuses.duplicate };
    await store.run(client, store.conflictInsert(item));
    return conflictOutcome(base, event.metadata.source, event.metadata.idempotency_key);
  }
  const result = await client.query(entry.text, values);
  const outcome: Outcome & { event: typeof event } = { ...base, status: OutcomeStatuses.succeeded, rows: entry.returning ? result.rows : [], rowsAffected: result.rowCount ?? 0 };
  await store.run(client, store.resultSucceeded(outcome));
  return outcome;
}

/**
 * Stores a dead letter's result in its own savepoint. If even that fails (for a reason of the
 * row's own), the outcome stands without its row: the record still goes to the dead-letter topic
 * with its raw bytes, so the partition moves on and nothing is lost.
 */
async function deadLetter(client: pg.PoolClient, { outcome, statement }: DeadLetterRecord): Promise<Outcome> {
  if (!statement) return outcome;
  try {
    await runPipeline(client, [{ text: 'SAVEPOINT dead_letter' }, statement, { text: 'RELEASE SAVEPOINT dead_letter' }]);
  } catch (error) {
    if (classifyQueryError(error) === FailureKinds.connection) throw error;
    await client.query('ROLLBACK TO SAVEPOINT dead_letter');
    outcome.unrecorded = storable(toError(error).message);
  }
  return outcome;
}

/** Counts a transient failure outside the rolled-back transaction, so a restart keeps the count. */
async function recordAttempt(pool: pg.Pool, eventId: string, error: unknown): Promise<void> {
  if (!isUuid(eventId)) return;
  const statement = store.attemptsRecord(eventId, { reason: storable(toError(error).message), sqlstate: sqlstateOf(error) ?? null });
  await store.run(pool, statement).catch(() => undefined);
}

/**
 * Runs `prepared` inside the open transaction and commits. Throws EventRetryError after
 * committing the events before a transiently failing one; a connection failure is thrown as it is.
 */
export async function executeCarefully(
  client: pg.PoolClient,
  pool: pg.Pool,
  prepared: readonly Prepared[],
  attemptsOf: (item: Prepared) => number,
  closing: readonly PipelineStatement[],
  options: ExecuteOptions,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const [index, item] of prepared.entries()) {
    const attempts = attemptsOf(item);
    if (!isExecutable(item)) {
      outcomes.push(await deadLetter(client, rejectedRecord(item, attempts)));
      continue;
    }
    await client.query('SAVEPOINT event');
    try {
      outcomes.push(await executeOne(client, item, attempts));
      await client.query('RELEASE SAVEPOINT event');
    } catch (error) {
      const kind = classifyQueryError(error);
      if (kind === FailureKinds.connection) throw error;
      await client.query('ROLLBACK TO SAVEPOINT event');
      const failure = failureOf(kind, error, attempts, options.maxTransientAttempts);
      if (!failure) {
        // The events before this one are done: commit them (and announce their results).
        await store.run(client, store.resultsNotify());
        await client.query('COMMIT');
        await recordAttempt(pool, item.event.id, error);
        throw new EventRetryError(index, outcomes, error);
      }
      await client.query('RELEASE SAVEPOINT event');
      outcomes.push(await deadLetter(client, deadLetterRecord(item, failure, attempts)));
    }
  }
  await runPipeline(client, closing);
  await client.query('COMMIT');
  return outcomes;
}
