/**
 * The PostgreSQL sink (no LOKI_URL): each batch is one INSERT into kitsune.logs, idempotent on the
 * event id, so a redelivered line is stored once.
 *
 * Failure routing reads SQLSTATE, never message text: a data, constraint or size error (class 22,
 * 23 or 54, e.g. a date out of range or a value too large to index) is the line's fault, so the batch is retried row by row and
 * only the rows refused alone are reported. Anything else (connection loss, shutdown, a missing
 * table) is PostgreSQL's or the setup's fault: retried with backoff until it works or close().
 */
import type pg from 'pg';
import { loadQueries } from '../../db/queries.ts';
import { ErrorCodes, KitsuneError, toError } from '../../errors.ts';
import { backoffMs, wait, type BackoffPolicy } from '../../backoff.ts';
import type { LogLine } from './log-line.ts';
import type { LogWorkerMetrics } from './metrics.ts';
import { DeadLetterReasons, type LogSink, type SinkRejection } from './sink.ts';

const { LogsInsert } = loadQueries(new URL('./sql/logs.sql', import.meta.url), ['LogsInsert']);

export interface PostgresSinkOptions {
  pool: pg.Pool;
  /** (Default: 250 ms doubling to 10 s) */
  backoff?: BackoffPolicy;
  metrics?: LogWorkerMetrics;
  /** Told of each transient failure before the wait; must not throw. (Default: none) */
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
}

/**
 * The row's own fault: data exceptions, integrity violations, and program limits (54000: a value
 * too large for an index entry, e.g. a source of hundreds of kilobytes).
 */
const rowFaultClasses = new Set(['22', '23', '54']);

function isRowFault(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.length === 5 && rowFaultClasses.has(code.slice(0, 2));
}

function insertParams(lines: readonly LogLine[]): unknown[][] {
  return [
    lines.map((line) => line.eventId),
    lines.map((line) => new Date(line.timestampMs).toISOString()),
    lines.map((line) => line.level),
    lines.map((line) => line.command),
    lines.map((line) => line.version),
    lines.map((line) => line.source),
    lines.map((line) => line.message),
    lines.map((line) => line.idempotencyKey),
    lines.map((line) => line.traceId ?? null),
  ];
}

function rejection(index: number, error: unknown): SinkRejection {
  const cause = toError(error);
  const sqlstate = (error as { code?: unknown }).code;
  const wrapped = new KitsuneError(ErrorCodes.INVALID_MESSAGE, `PostgreSQL refused the log line: ${cause.message}`, { retryable: false, cause });
  return { index, reason: DeadLetterReasons.rejectedByPostgres, error: Object.assign(wrapped, { sqlstate }) };
}

export function createPostgresSink(options: PostgresSinkOptions): LogSink {
  const { pool, metrics, onRetry } = options;
  const backoff: BackoffPolicy = options.backoff ?? { baseMs: 250, maxMs: 10_000 };
  const abort = new AbortController();

  /** Runs `work` until it succeeds or fails for the row's fault; transient errors are retried. */
  async function untilAnswered<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (abort.signal.aborted) throw stopped();
      try {
        return await work();
      } catch (error) {
        if (isRowFault(error)) throw error;
        if (abort.signal.aborted) throw stopped(error);
        const delayMs = backoffMs(attempt, backoff);
        metrics?.retry('postgres_unavailable');
        onRetry?.(toError(error), attempt, delayMs);
        await wait(delayMs, abort.signal);
      }
    }
  }

  return {
    name: 'postgres',
    async write(lines: readonly LogLine[]): Promise<SinkRejection[]> {
      if (lines.length === 0) return [];
      try {
        await untilAnswered(() => pool.query(LogsInsert, insertParams(lines)));
        return [];
      } catch (error) {
        if (!isRowFault(error)) throw error;
      }
      // Some row is at fault: find which, one statement per row (rare, so the cost is fine).
      const rejections: SinkRejection[] = [];
      for (const [index, line] of lines.entries()) {
        try {
          await untilAnswered(() => pool.query(LogsInsert, insertParams([line])));
        } catch (error) {
          if (!isRowFault(error)) throw error;
          rejections.push(rejection(index, error));
        }
      }
      return rejections;
    },
    flush: () => undefined,
    close: () => {
      abort.abort();
      return Promise.resolve();
    },
  };
}

function stopped(cause?: unknown): KitsuneError {
  return new KitsuneError(ErrorCodes.UNAVAILABLE, 'the PostgreSQL log sink was closed before the lines were stored', { retryable: true, cause });
}
