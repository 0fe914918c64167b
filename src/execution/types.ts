/** The shapes the batch executor passes between its parts: a prepared record and its outcome. */
import type { CommandEntry } from '../commands/index.ts';
import type { CommandEvent } from '../events/envelope.ts';
import type { ReceivedMessage } from '../transport/types.ts';

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
  /** `rows` as JSON, encoded once for the result row and the db-results record (see rowsJsonOf). */
  rowsJson?: string;
  rowsAffected?: number;
  failure?: FailureInfo;
  attempts: number;
  /** Why a dead letter's result row could not be stored (the DLQ record still carries it). */
  unrecorded?: string;
}

/** A record after decoding and validation, before any SQL. */
export interface Prepared {
  message: ReceivedMessage;
  event?: CommandEvent;
  entry?: CommandEntry;
  rejected?: FailureInfo;
  /** The command's bound values and the payload's hash, computed once for either path. */
  values?: unknown[];
  hash?: Buffer;
}

/** A record that reaches its command's SQL: decoded, registered, valid, with a UUID id. */
export type Executable = Prepared & Required<Pick<Prepared, 'event' | 'entry' | 'values' | 'hash'>>;

export interface ExecuteOptions {
  /** A transient failure of the same event this many times dead-letters it. (Default: 10) */
  maxTransientAttempts: number;
  /** Records already found bad before the batch (a schema registry's check): dead-lettered with that reason. */
  rejected?: ReadonlyMap<ReceivedMessage, FailureInfo> | undefined;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => uuid.test(value);

export function isExecutable(item: Prepared): item is Executable {
  return !item.rejected && item.event !== undefined && item.entry !== undefined && item.values !== undefined && item.hash !== undefined && isUuid(item.event.id);
}

/** The JSON of an outcome's rows, encoded on first use and kept. */
export function rowsJsonOf(outcome: Outcome): string {
  outcome.rowsJson ??= JSON.stringify(outcome.rows ?? []);
  return outcome.rowsJson;
}
