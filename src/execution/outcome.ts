/**
 * What becomes of an event that failed: retried (transient, attempts left), or dead-lettered with
 * its reason; and the dead letter's outcome and result row, which must be writable whatever the
 * record held (escaped and bounded, see decision 0018).
 */
import type { PipelineStatement } from '../db/pipeline.ts';
import { quoted, storable, truncate } from '../events/text.ts';
import { unframe } from '../events/wire-format.ts';
import { ErrorCodes, KitsuneError, toError } from '../errors.ts';
import { FailureKinds, sqlstateOf, type FailureKind } from './failures.ts';
import { resultDeadLettered } from './store.ts';
import { isUuid, OutcomeStatuses, type FailureInfo, type Outcome, type Prepared } from './types.ts';

/** A retryable error from the database that lost the whole transaction. */
export class DatabaseUnavailableError extends KitsuneError {
  constructor(cause: unknown) {
    super(ErrorCodes.UNAVAILABLE, `PostgreSQL is unavailable: ${toError(cause).message}`, { retryable: true, cause });
  }
}

/** A transient failure of one event; the batch stopped at `index`, the events before it committed. */
export class EventRetryError extends KitsuneError {
  constructor(
    readonly index: number,
    readonly outcomes: Outcome[],
    cause: unknown,
  ) {
    super(ErrorCodes.UNAVAILABLE, `event ${index} failed transiently: ${toError(cause).message}`, { retryable: true, cause });
  }
}

/**
 * A set statement did not apply exactly one row per event (a trigger skipped one, say), so its
 * rows cannot be told apart: the batch runs again on the per-event path. Not a database error.
 */
export class SetMismatchError extends Error {
  constructor(events: number, rows: number | null) {
    super(`a set statement for ${events} events applied ${rows ?? 'no'} rows`);
  }
}

/**
 * The failure of an event whose statement failed with `kind` on try `attempts`, or undefined when
 * it should be tried again. Connection failures never reach here: they fail the whole batch.
 */
export function failureOf(kind: Exclude<FailureKind, 'connection'>, error: unknown, attempts: number, maxTransientAttempts: number): FailureInfo | undefined {
  if (kind === FailureKinds.transient && attempts < maxTransientAttempts) return undefined;
  const sqlstate = sqlstateOf(error);
  return {
    reason: kind === FailureKinds.transient ? `gave up after ${attempts} transient failures: ${toError(error).message}` : toError(error).message,
    code: kind === FailureKinds.transient ? 'KITSUNE_RETRIES_EXHAUSTED' : 'KITSUNE_STATEMENT_FAILED',
    ...(sqlstate ? { sqlstate } : {}),
  };
}

/** The failure of an event that never reached the database (decode, registry, schema, id). */
function rejection(item: Prepared): FailureInfo {
  return item.rejected ?? { reason: `event id ${quoted(item.event?.id ?? item.message.id)} is not a UUID`, code: ErrorCodes.INVALID_MESSAGE };
}

export interface DeadLetterRecord {
  outcome: Outcome;
  /** Stores the dead letter's result; absent when the record has no UUID id to store it under. */
  statement?: PipelineStatement;
}

/** Longest command, version, source or key stored with a dead letter: a record may carry megabytes. */
const deadLetterFieldMax = 1_024;

/** A string from a record, made safe for a text column or header and bounded in size. */
const kept = (text: string): string => storable(truncate(text, deadLetterFieldMax));

/** The strings a record says about itself, even when it is not a valid event; '' where it has none. */
function recordFields(item: Prepared): { id: string | undefined; command: string; version: string; source: string; idempotencyKey: string } {
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

/** The dead letter's outcome and the statement recording its result; the DLQ record itself is published after COMMIT. */
export function deadLetterRecord(item: Prepared, failure: FailureInfo, attempts: number): DeadLetterRecord {
  const { message, event } = item;
  const fields = recordFields(item);
  const id = fields.id !== undefined && isUuid(fields.id) ? fields.id : undefined;
  const safeFailure: FailureInfo = { ...failure, reason: storable(failure.reason) };
  const outcome: Outcome = { message, event, eventId: id ?? kept(fields.id ?? message.id), status: OutcomeStatuses.deadLettered, failure: safeFailure, attempts };
  if (id === undefined) return { outcome };
  const statement = resultDeadLettered({
    eventId: id,
    command: kept(fields.command),
    version: kept(fields.version),
    source: kept(fields.source),
    idempotencyKey: kept(fields.idempotencyKey),
    failure: safeFailure,
    attempts,
    message,
  });
  return { outcome, statement };
}

/** The dead letter of an event that never reached the database. */
export const rejectedRecord = (item: Prepared, attempts: number): DeadLetterRecord => deadLetterRecord(item, rejection(item), attempts);

/** The outcome of an event whose key was already used with another payload. */
export function conflictOutcome(base: Omit<Outcome, 'status'>, source: string, key: string): Outcome {
  return {
    ...base,
    status: OutcomeStatuses.conflict,
    failure: { reason: `idempotency key ${key} of ${source} was already used with a different payload`, code: 'KITSUNE_IDEMPOTENCY_CONFLICT' },
  };
}
