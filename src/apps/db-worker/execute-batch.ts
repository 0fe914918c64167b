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
import { quoted, storable, truncate } from '../../events/text.ts';
import { unframe } from '../../events/wire-format.ts';
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
  /** Why a dead letter's result row could not be stored (the DLQ record still carries it). */
  unrecorded?: string;
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
  /** The command's bound values and the payload's hash, computed once for either path. */
  values?: unknown[];
  hash?: Buffer;
}

/**
 * Decodes and validates without touching the database; a bad event is marked for the DLQ. Never
 * throws: whatever a record holds, a failure here is that record's, never the batch's.
 */
function prepare(message: ReceivedMessage, registry: Registry, rejectedBefore: ExecuteOptions['rejected']): Prepared {
  let event: CommandEvent;
  try {
    event = decodeEvent(message.value);
  } catch (error) {
    return { message, rejected: { reason: toError(error).message, code: ErrorCodes.INVALID_MESSAGE } };
  }
  const early = rejectedBefore?.get(message);
  if (early) return { message, event, rejected: early };
  try {
    const entry = registry.get(event.command, event.version);
    if (!entry) {
      return { message, event, rejected: { reason: `unknown command ${quoted(event.command)} version ${quoted(event.version)}`, code: ErrorCodes.INVALID_MESSAGE } };
    }
    const checked = entry.validate(event.payload);
    if (!checked.ok) {
      const detail = checked.errors.map((e) => `${e.field} ${e.message}`).join('; ');
      return { message, event, entry, rejected: { reason: `payload does not match ${event.command} v${event.version}: ${detail}`, code: ErrorCodes.INVALID_MESSAGE } };
    }
    return { message, event, entry, values: entry.bind(event.payload), hash: payloadHash(event) };
  } catch (error) {
    return { message, event, rejected: { reason: `the event cannot be prepared: ${toError(error).message}`, code: ErrorCodes.INVALID_MESSAGE } };
  }
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
        await client.query('RELEASE SAVEPOINT event');
        outcomes.push(await deadLetter(client, deadLetterRecord(item, failure, attempts)));
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

/** An event that reaches its command's SQL: decoded, registered, valid, with a UUID id. */
export function isExecutable(item: Prepared): item is Prepared & Required<Pick<Prepared, 'event' | 'entry' | 'values' | 'hash'>> {
  return !item.rejected && item.event !== undefined && item.entry !== undefined && item.values !== undefined && item.hash !== undefined && isUuid(item.event.id);
}

/** The failure of an event that never reached the database (decode, registry, schema, id). */
function rejection(item: Prepared): FailureInfo {
  return item.rejected ?? { reason: `event id ${quoted(item.event?.id ?? item.message.id)} is not a UUID`, code: ErrorCodes.INVALID_MESSAGE };
}

/** The outcome of a rejected event and the statement that records it, to run in a pipeline. */
export function rejectedRecord(item: Prepared, attempts: number): DeadLetterRecord {
  return deadLetterRecord(item, rejection(item), attempts);
}

async function executeOne(client: pg.PoolClient, item: Prepared & Required<Pick<Prepared, 'event' | 'entry' | 'values' | 'hash'>>, attempts: number): Promise<Outcome> {
  const { message, event, entry, values, hash } = item;
  const base = { message, event, eventId: event.id, attempts };
  const { source, idempotency_key: key } = event.metadata;
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
  const result = await client.query(entry.text, values);
  const rows = entry.returning ? result.rows : [];
  await client.query(queries.ResultUpsert, [
    event.id, OutcomeStatuses.succeeded, event.command, event.version, source, key,
    JSON.stringify(rows), result.rowCount ?? 0, null, attempts, message.topic, message.partition, String(message.offset),
  ]);
  return { ...base, status: OutcomeStatuses.succeeded, rows, rowsAffected: result.rowCount ?? 0 };
}

export interface DeadLetterRecord {
  outcome: Outcome;
  /** Stores the dead letter's result; absent when the record has no UUID id to store it under. */
  statement?: PipelineStatement;
}

/** Longest command, version, source or key stored with a dead letter: a record may carry megabytes. */
const deadLetterFieldMax = 1_024;

/** The strings a record says about itself, even when it is not a valid event; '' where it has none. */
interface RecordFields {
  id: string | undefined;
  command: string;
  version: string;
  source: string;
  idempotencyKey: string;
}

function recordFields(item: Prepared): RecordFields {
  const { event } = item;
  if (event) return { id: event.id, command: event.command, version: event.version, source: event.metadata.source, idempotencyKey: event.metadata.idempotency_key };
  // Not a valid event: read what it does say, so a producer polling GET /events/:id sees why.
  let parsed: unknown;
  try {
    parsed = JSON.parse((unframe(item.message.value)?.json ?? item.message.value).toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const object = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  const record = object(parsed);
  const metadata = object(record['metadata']);
  return {
    id: typeof record['id'] === 'string' ? record['id'] : undefined,
    command: text(record['command']),
    version: text(record['version']),
    source: text(metadata['source']),
    idempotencyKey: text(metadata['idempotency_key']),
  };
}

/** A string from a record, made safe for a text column or header and bounded in size. */
const kept = (text: string): string => storable(truncate(text, deadLetterFieldMax));

/** The dead letter's outcome and the statement recording its result; the DLQ record itself is published after COMMIT. */
export function deadLetterRecord(item: Prepared, failure: FailureInfo, attempts: number): DeadLetterRecord {
  const { message, event } = item;
  const fields = recordFields(item);
  const id = fields.id !== undefined && isUuid(fields.id) ? fields.id : undefined;
  const safeFailure: FailureInfo = { ...failure, reason: storable(failure.reason) };
  const outcome: Outcome = { message, event, eventId: id ?? kept(fields.id ?? message.id), status: OutcomeStatuses.deadLettered, failure: safeFailure, attempts };
  if (id === undefined) return { outcome };
  const values = [
    id, OutcomeStatuses.deadLettered, kept(fields.command), kept(fields.version), kept(fields.source), kept(fields.idempotencyKey),
    null, null, JSON.stringify(safeFailure), attempts, message.topic, message.partition, String(message.offset),
  ];
  return { outcome, statement: { text: queries.ResultUpsert, values } };
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
async function recordAttempt(pool: pg.Pool, eventId: string | undefined, error: unknown): Promise<void> {
  if (!eventId || !isUuid(eventId)) return;
  await pool
    .query(queries.AttemptsRecord, [eventId, JSON.stringify({ reason: storable(toError(error).message), sqlstate: sqlstateOf(error) ?? null })])
    .catch(() => undefined);
}
