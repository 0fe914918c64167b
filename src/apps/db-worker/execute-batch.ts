/**
 * One polled batch of one partition, in one PostgreSQL transaction with a savepoint per event.
 * For each event the idempotency row and the command's effect commit together, so a crash at any
 * point either applied both or neither; the offsets are committed by the transport afterwards.
 *
 * Per-entity order: an event that fails transiently stops the batch there. Events before it are
 * committed; it and everything after it are redelivered (PartialBatchError), so no later event of
 * the partition overtakes it.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { CommandEntry, Registry } from '../../commands/index.ts';
import { decodeEvent, type CommandEvent } from '../../events/envelope.ts';
import { PipelineError, runPipeline, type PipelineResult, type PipelineStatement } from '../../db/pipeline.ts';
import { loadQueries } from '../../db/queries.ts';
import { ErrorCodes, KitsuneError, toError } from '../../errors.ts';
import type { ReceivedMessage } from '../../transport/types.ts';
import { executeOptimistically, planClaim } from './fast-path.ts';
import { classifyQueryError, FailureKinds, sqlstateOf } from './failures.ts';

export const queries = loadQueries(new URL('./sql/events.sql', import.meta.url), [
  'IdempotencyInsert',
  'IdempotencyGet',
  'ResultUpsert',
  'ConflictInsert',
  'AttemptsGet',
  'AttemptsRecord',
  'AttemptsClear',
  'IdempotencyClaimMany',
  'IdempotencyGetMany',
  'ResultInsertMany',
  'ResultsNotify',
]);

export const OutcomeStatuses = {
  succeeded: 'succeeded',
  duplicate: 'duplicate',
  conflict: 'conflict',
  deadLettered: 'dead_lettered',
} as const;

export type OutcomeStatus = (typeof OutcomeStatuses)[keyof typeof OutcomeStatuses];

export interface FailureInfo {
  reason: string;
  code: string;
  sqlstate?: string;
}

export interface Outcome {
  message: ReceivedMessage;
  /** Undefined only when the record could not be decoded at all. */
  event: CommandEvent | undefined;
  eventId: string;
  status: OutcomeStatus;
  rows?: unknown[];
  rowsAffected?: number;
  failure?: FailureInfo;
  attempts: number;
}

/** A retryable error from the database that lost the whole transaction. */
export class DatabaseUnavailableError extends KitsuneError {
  constructor(cause: unknown) {
    super(ErrorCodes.UNAVAILABLE, `PostgreSQL is unavailable: ${toError(cause).message}`, { retryable: true, cause });
  }
}

/** A transient failure of one event; the batch stopped at `index`. */
export class EventRetryError extends KitsuneError {
  constructor(
    readonly index: number,
    readonly outcomes: Outcome[],
    cause: unknown,
  ) {
    super(ErrorCodes.UNAVAILABLE, `event ${index} failed transiently: ${toError(cause).message}`, { retryable: true, cause });
  }
}

/** SHA-256 of the payload with keys sorted, so key order in the JSON never makes a "conflict". */
export function payloadHash(event: Pick<CommandEvent, 'command' | 'version' | 'payload'>): Buffer {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]));
    }
    return value;
  };
  return createHash('sha256').update(JSON.stringify([event.command, event.version, canonical(event.payload)])).digest();
}

export interface Prepared {
  message: ReceivedMessage;
  event?: CommandEvent;
  entry?: CommandEntry;
  rejected?: FailureInfo;
}

/** Decodes and validates without touching the database; a bad event is marked for the DLQ. */
function prepare(message: ReceivedMessage, registry: Registry, rejectedBefore: ExecuteOptions['rejected']): Prepared {
  let event: CommandEvent;
  try {
    event = decodeEvent(message.value);
  } catch (error) {
    return { message, rejected: { reason: toError(error).message, code: ErrorCodes.INVALID_MESSAGE } };
  }
  const early = rejectedBefore?.get(message);
  if (early) return { message, event, rejected: early };
  const entry = registry.get(event.command, event.version);
  if (!entry) return { message, event, rejected: { reason: `unknown command ${event.command} version ${event.version}`, code: ErrorCodes.INVALID_MESSAGE } };
  const checked = entry.validate(event.payload);
  if (!checked.ok) {
    const detail = checked.errors.map((e) => `${e.field} ${e.message}`).join('; ');
    return { message, event, entry, rejected: { reason: `payload does not match ${event.command} v${event.version}: ${detail}`, code: ErrorCodes.INVALID_MESSAGE } };
  }
  return { message, event, entry };
}

export interface ExecuteOptions {
  /** A transient failure of the same event this many times dead-letters it. (Default: 10) */
  maxTransientAttempts: number;
  /** Records already found bad before the batch (a schema registry's check): dead-lettered with that reason. */
  rejected?: ReadonlyMap<ReceivedMessage, FailureInfo> | undefined;
}

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
  // A checked-out client is not watched by the pool: if the server ends its session while it
  // sits between queries, its 'error' event would crash the process. The failure surfaces on the
  // next query instead, which is where we handle it.
  const ignoreIdleError = (): void => undefined;
  client.on('error', ignoreIdleError);
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
      opening = await runPipeline(client, [{ text: 'SAVEPOINT batch' }, { text: queries.AttemptsGet, values: [ids] }, ...(claim ? [claim.statement] : [])]);
    } catch (error) {
      // Only a failed claim falls back to the careful path; anything before it fails the batch.
      if (!(error instanceof PipelineError) || error.index < 2 || classifyQueryError(error) === FailureKinds.connection) throw error;
      opening = error.results;
      fastPathOpen = false;
      await client.query('ROLLBACK TO SAVEPOINT batch');
    }
    const attemptRows = opening[1]!.rows as Array<{ event_id: string; attempts: number }>;
    const previousAttempts = new Map(attemptRows.map((row) => [row.event_id, row.attempts]));
    const attemptsOf = (item: Prepared): number => (previousAttempts.get(item.event?.id ?? '') ?? 0) + 1;
    // Sent with the batch's last statements: the attempts are settled, and waiting API requests look
    // for the results as soon as they commit.
    const closing: PipelineStatement[] = [
      ...(previousAttempts.size > 0 ? [{ text: queries.AttemptsClear, values: [[...previousAttempts.keys()]] }] : []),
      { text: queries.ResultsNotify },
    ];
    if (claim && fastPathOpen) {
      try {
        const fast = await executeOptimistically(client, prepared, claim, opening[2]!.rows, attemptsOf, closing);
        await client.query('COMMIT');
        return fast;
      } catch (error) {
        if (classifyQueryError(error) === FailureKinds.connection) throw error;
        // A statement failed: start over event by event, each in its own savepoint.
        await client.query('ROLLBACK TO SAVEPOINT batch');
      }
    }
    const outcomes: Outcome[] = [];
    for (const [index, item] of prepared.entries()) {
      const attempts = (previousAttempts.get(item.event?.id ?? '') ?? 0) + 1;
      await client.query('SAVEPOINT event');
      try {
        outcomes.push(await executeOne(client, item, attempts));
        await client.query('RELEASE SAVEPOINT event');
      } catch (error) {
        const kind = classifyQueryError(error);
        if (kind === FailureKinds.connection) throw error;
        await client.query('ROLLBACK TO SAVEPOINT event');
        if (kind === FailureKinds.transient && attempts < options.maxTransientAttempts) {
          // The events before this one are done: commit them (and announce their results).
          await client.query(queries.ResultsNotify);
          await client.query('COMMIT');
          await recordAttempt(pool, item.event?.id, error);
          throw new EventRetryError(index, outcomes, error);
        }
        const failure: FailureInfo = {
          reason: kind === FailureKinds.transient ? `gave up after ${attempts} transient failures: ${toError(error).message}` : toError(error).message,
          code: kind === FailureKinds.transient ? 'KITSUNE_RETRIES_EXHAUSTED' : 'KITSUNE_STATEMENT_FAILED',
          ...(sqlstateOf(error) ? { sqlstate: sqlstateOf(error)! } : {}),
        };
        outcomes.push(await deadLetter(client, item, failure, attempts));
      }
    }
    await runPipeline(client, closing);
    await client.query('COMMIT');
    return outcomes;
  } catch (error) {
    if (error instanceof EventRetryError) throw error;
    broken = true;
    await client.query('ROLLBACK').catch(() => undefined);
    if (classifyQueryError(error) === FailureKinds.connection) throw new DatabaseUnavailableError(error);
    throw error;
  } finally {
    client.off('error', ignoreIdleError);
    client.release(broken);
  }
}

export const isUuid = (value: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/** The failure of an event that never reached the database (decode, registry, schema, id). */
function rejection(item: Prepared): FailureInfo {
  return item.rejected ?? { reason: `event id ${item.event?.id ?? item.message.id} is not a UUID`, code: ErrorCodes.INVALID_MESSAGE };
}

/** The dead letter of an event that failed before reaching the database. */
function rejected(client: pg.PoolClient, item: Prepared, attempts: number): Promise<Outcome> {
  return deadLetter(client, item, rejection(item), attempts);
}

/** The outcome of a rejected event and the statement that records it, to run in a pipeline. */
export function rejectedRecord(item: Prepared, attempts: number): DeadLetterRecord {
  return deadLetterRecord(item, rejection(item), attempts);
}

async function executeOne(client: pg.PoolClient, item: Prepared, attempts: number): Promise<Outcome> {
  const { message, event, entry } = item;
  if (item.rejected || !event || !entry || !isUuid(event.id)) return rejected(client, item, attempts);
  const base = { message, event, eventId: event.id, attempts };
  const { source, idempotency_key: key } = event.metadata;
  const hash = payloadHash(event);
  const inserted = await client.query(queries.IdempotencyInsert, [source, key, event.id, event.command, event.version, hash]);
  if (inserted.rowCount === 0) {
    const { rows } = await client.query<{ event_id: string; payload_hash: Buffer }>(queries.IdempotencyGet, [source, key]);
    const original = rows[0];
    if (original && original.payload_hash.equals(hash)) return { ...base, eventId: original.event_id, status: OutcomeStatuses.duplicate };
    await client.query(queries.ConflictInsert, [event.id, hash, JSON.stringify(event.payload), message.topic, message.partition, String(message.offset)]);
    return {
      ...base,
      status: OutcomeStatuses.conflict,
      failure: { reason: `idempotency key ${key} of ${source} was already used with a different payload`, code: 'KITSUNE_IDEMPOTENCY_CONFLICT' },
    };
  }
  const result = await client.query(entry.text, entry.bind(event.payload));
  const rows = entry.returning ? result.rows : [];
  await client.query(queries.ResultUpsert, [
    event.id, OutcomeStatuses.succeeded, event.command, event.version, source, key,
    JSON.stringify(rows), result.rowCount ?? 0, null, attempts, message.topic, message.partition, String(message.offset),
  ]);
  return { ...base, status: OutcomeStatuses.succeeded, rows, rowsAffected: result.rowCount ?? 0 };
}

export interface DeadLetterRecord {
  outcome: Outcome;
  /** Stores the dead letter's result; absent when the event has no usable id to store it under. */
  statement?: PipelineStatement;
}

/** The dead letter's outcome and the statement recording its result; the DLQ record itself is published after COMMIT. */
function deadLetterRecord(item: Prepared, failure: FailureInfo, attempts: number): DeadLetterRecord {
  const { message, event } = item;
  const outcome: Outcome = { message, event, eventId: event?.id ?? message.id, status: OutcomeStatuses.deadLettered, failure, attempts };
  if (!event || !isUuid(event.id)) return { outcome };
  const values = [
    event.id, OutcomeStatuses.deadLettered, event.command, event.version, event.metadata.source, event.metadata.idempotency_key,
    null, null, JSON.stringify(failure), attempts, message.topic, message.partition, String(message.offset),
  ];
  return { outcome, statement: { text: queries.ResultUpsert, values } };
}

async function deadLetter(client: pg.PoolClient, item: Prepared, failure: FailureInfo, attempts: number): Promise<Outcome> {
  const { outcome, statement } = deadLetterRecord(item, failure, attempts);
  if (statement) await client.query(statement.text, statement.values as unknown[]);
  return outcome;
}

/** Counts a transient failure outside the rolled-back transaction, so a restart keeps the count. */
async function recordAttempt(pool: pg.Pool, eventId: string | undefined, error: unknown): Promise<void> {
  if (!eventId || !isUuid(eventId)) return;
  await pool
    .query(queries.AttemptsRecord, [eventId, JSON.stringify({ reason: toError(error).message, sqlstate: sqlstateOf(error) ?? null })])
    .catch(() => undefined);
}
