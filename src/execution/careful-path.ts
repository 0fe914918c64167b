/**
 * The careful path: events one by one, each in its own savepoint, so one failing statement costs
 * only its own event. About five round trips per event: the batch runs it only on small parts
 * that the fast path failed on (in-parts.ts).
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

/** What applying a part of a batch inside its open transaction needs. */
export interface ApplyContext {
  client: pg.PoolClient;
  attemptsOf: (item: Prepared) => number;
  options: ExecuteOptions;
  /** Appended to in batch order. */
  outcomes: Outcome[];
}

/** An event that failed transiently: it and everything after it in the batch are redelivered. */
export interface TransientStop {
  /** Its index in the batch. */
  index: number;
  error: unknown;
}

/**
 * Runs `part` (the batch's events from index `first` on) inside the open transaction, appending
 * an outcome per event to `outcomes`. Stops at the first event that fails transiently and
 * returns it, with that event's savepoint rolled back; commits nothing.
 */
export async function applyCarefully({ client, attemptsOf, options, outcomes }: ApplyContext, part: readonly Prepared[], first: number): Promise<TransientStop | undefined> {
  for (const [offset, item] of part.entries()) {
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
      if (!failure) return { index: first + offset, error };
      await client.query('RELEASE SAVEPOINT event');
      outcomes.push(await deadLetter(client, deadLetterRecord(item, failure, attempts)));
    }
  }
  return undefined;
}

/** Counts a transient failure outside the rolled-back transaction, so a restart keeps the count. */
async function recordAttempt(pool: pg.Pool, eventId: string, error: unknown): Promise<void> {
  if (!isUuid(eventId)) return;
  const statement = store.attemptsRecord(eventId, { reason: storable(toError(error).message), sqlstate: sqlstateOf(error) ?? null });
  await store.run(pool, statement).catch(() => undefined);
}

/**
 * Ends the open transaction after `outcomes` were applied: commits them with `closing`, or, when
 * an event stopped the batch, commits the events before it (and announces their results), counts
 * the stopping event's attempt and throws EventRetryError.
 */
export async function commitApplied(
  client: pg.PoolClient,
  pool: pg.Pool,
  prepared: readonly Prepared[],
  outcomes: Outcome[],
  stop: TransientStop | undefined,
  closing: readonly PipelineStatement[],
): Promise<Outcome[]> {
  if (!stop) {
    await runPipeline(client, closing);
    await client.query('COMMIT');
    return outcomes;
  }
  await store.run(client, store.resultsNotify());
  await client.query('COMMIT');
  const event = prepared[stop.index]?.event;
  if (event) await recordAttempt(pool, event.id, stop.error);
  throw new EventRetryError(stop.index, outcomes, stop.error);
}
