/**
 * Kitsune's execution state in PostgreSQL (schema `kitsune`): one function per statement of
 * sql/events.sql, each returning the statement with its bound values, so the careful path can run
 * it on its own (`run`) and the fast path can pipeline several in one round trip.
 */
import type pg from 'pg';
import type { PipelineStatement } from '../db/pipeline.ts';
import { loadQueries } from '../db/queries.ts';
import type { CommandEvent } from '../events/envelope.ts';
import type { ReceivedMessage } from '../transport/types.ts';
import { rowsJsonOf, type Executable, type FailureInfo, type Outcome } from './types.ts';

const queries = loadQueries(new URL('./sql/events.sql', import.meta.url), [
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

/** The fast path's statements are prepared once per connection under these names (pipeline.ts). */
const named = (name: keyof typeof queries): { text: string; name: string } => ({ text: queries[name], name: `kitsune_${name}` });

/** Runs one statement on a client, or on the pool (outside the batch's transaction). */
export function run<Row extends pg.QueryResultRow = Record<string, unknown>>(on: pg.ClientBase | pg.Pool, statement: PipelineStatement): Promise<pg.QueryResult<Row>> {
  return on.query<Row>(statement.text, statement.values as unknown[] | undefined);
}

const position = (message: ReceivedMessage): [string, number, string] => [message.topic, message.partition, String(message.offset)];

/** Claims (source, key) for one event; no row back when the key was taken before. */
export const idempotencyInsert = ({ event, hash }: Executable): PipelineStatement => ({
  text: queries.IdempotencyInsert,
  values: [event.metadata.source, event.metadata.idempotency_key, event.id, event.command, event.version, hash],
});

/** The event that took (source, key), and its payload's hash. */
export const idempotencyGet = (event: CommandEvent): PipelineStatement => ({ text: queries.IdempotencyGet, values: [event.metadata.source, event.metadata.idempotency_key] });

/** Claims every executable event's key in one statement; returns the keys it inserted. */
export const idempotencyClaimMany = (items: readonly Executable[]): PipelineStatement => ({
  ...named('IdempotencyClaimMany'),
  values: [
    items.map((i) => i.event.metadata.source),
    items.map((i) => i.event.metadata.idempotency_key),
    items.map((i) => i.event.id),
    items.map((i) => i.event.command),
    items.map((i) => i.event.version),
    items.map((i) => i.hash),
  ],
});

export const idempotencyGetMany = (items: readonly Executable[]): PipelineStatement => ({
  ...named('IdempotencyGetMany'),
  values: [items.map((i) => i.event.metadata.source), items.map((i) => i.event.metadata.idempotency_key)],
});

/** A redelivered key with another payload; stored once per (event, payload). */
export const conflictInsert = ({ event, hash, message }: Executable): PipelineStatement => ({
  text: queries.ConflictInsert,
  values: [event.id, hash, JSON.stringify(event.payload), ...position(message)],
});

/** A succeeded event's result. */
export const resultSucceeded = (outcome: Outcome & { event: CommandEvent }): PipelineStatement => ({
  text: queries.ResultUpsert,
  values: [
    outcome.eventId, outcome.status, outcome.event.command, outcome.event.version, outcome.event.metadata.source, outcome.event.metadata.idempotency_key,
    rowsJsonOf(outcome), outcome.rowsAffected ?? 0, null, outcome.attempts, ...position(outcome.message),
  ],
});

/** The fields a dead letter's result row stores, already escaped and bounded by the caller. */
export interface DeadLetterRow {
  eventId: string;
  command: string;
  version: string;
  source: string;
  idempotencyKey: string;
  failure: FailureInfo;
  attempts: number;
  message: ReceivedMessage;
}

/** A dead letter's result. Never overwrites a success (a redelivered copy failing later). */
export const resultDeadLettered = (row: DeadLetterRow): PipelineStatement => ({
  text: queries.ResultUpsert,
  values: [row.eventId, 'dead_lettered', row.command, row.version, row.source, row.idempotencyKey, null, null, JSON.stringify(row.failure), row.attempts, ...position(row.message)],
});

/** Every succeeded event's result in one statement. */
export const resultInsertMany = (succeeded: readonly (Outcome & { event: CommandEvent })[]): PipelineStatement => ({
  ...named('ResultInsertMany'),
  values: [
    succeeded.map((o) => o.eventId),
    succeeded.map((o) => o.status),
    succeeded.map((o) => o.event.command),
    succeeded.map((o) => o.event.version),
    succeeded.map((o) => o.event.metadata.source),
    succeeded.map((o) => o.event.metadata.idempotency_key),
    succeeded.map(rowsJsonOf),
    succeeded.map((o) => o.rowsAffected ?? 0),
    succeeded.map(() => null),
    succeeded.map((o) => o.attempts),
    succeeded.map((o) => o.message.topic),
    succeeded.map((o) => o.message.partition),
    succeeded.map((o) => String(o.message.offset)),
  ],
});

/** Transient failures counted so far for these events. */
export const attemptsGet = (eventIds: readonly string[]): PipelineStatement => ({ ...named('AttemptsGet'), values: [eventIds] });

/** Counts one transient failure; runs outside the batch transaction, so a rollback keeps it. */
export const attemptsRecord = (eventId: string, lastError: { reason: string; sqlstate: string | null }): PipelineStatement => ({
  text: queries.AttemptsRecord,
  values: [eventId, JSON.stringify(lastError)],
});

export const attemptsClear = (eventIds: readonly string[]): PipelineStatement => ({ ...named('AttemptsClear'), values: [eventIds] });

/** Wakes the API's result waiters at COMMIT. */
export const resultsNotify = (): PipelineStatement => ({ text: queries.ResultsNotify });
