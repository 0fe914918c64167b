/**
 * Where the log worker puts lines: Loki when LOKI_URL is set, else the `kitsune.logs` table.
 * The worker acknowledges (commits) a record only after its sink stored the line or refused it
 * for good and the refusal was dead-lettered, so a sink must never report a line as stored early.
 */
import type { LogLine } from './log-line.ts';

/** Why a line went to the DLQ instead of its sink: the `reason` of the dead-letter counter. */
export const DeadLetterReasons = {
  /** The record is not a Kitsune event (bad JSON, fields missing, bad timestamp). */
  malformedEvent: 'malformed_event',
  /** Loki answered 400 for the entry alone (line too long, too old, bad labels...). */
  rejectedByLoki: 'rejected_by_loki',
  /** Loki answered 413 for the entry alone. */
  tooLargeForLoki: 'too_large_for_loki',
  /** PostgreSQL refused the row alone with a data, constraint or size error (SQLSTATE class 22, 23 or 54). */
  rejectedByPostgres: 'rejected_by_postgres',
} as const;

export type DeadLetterReason = (typeof DeadLetterReasons)[keyof typeof DeadLetterReasons];

/** A line its sink will never store as it is. */
export interface SinkRejection {
  /** Position in the `lines` given to write(). */
  index: number;
  reason: DeadLetterReason;
  /** Carries the sink's own words (Loki's reason text, PostgreSQL's message and SQLSTATE). */
  error: Error;
}

export interface LogSink {
  readonly name: 'loki' | 'postgres';
  /**
   * Resolves once every line is stored or refused for good, with the refused ones. Throws when
   * it cannot tell (store unreachable and close() called, or an error it does not retry itself);
   * then nothing of the batch may be acknowledged, and writing the same lines again is safe.
   */
  write(lines: readonly LogLine[]): Promise<SinkRejection[]>;
  /** Sends what is pending now instead of waiting for a batch to fill. No-op if it does not batch. */
  flush(): void;
  /** Aborts work in flight (its write() calls then throw) and releases what it holds. Idempotent. */
  close(): Promise<void>;
}
