/**
 * Options of the Postgres log transport, their defaults and their validation. Every problem is
 * reported at once, with the field at fault.
 */
import type pg from 'pg';
import { ErrorCodes, KitsuneError } from '../../errors.ts';

export interface RetentionOptions {
  /** Messages older than this may be deleted. (Default: 7 days) */
  maxAgeMs?: number;
  /**
   * Also require that every group that ever committed on the partition has committed past the
   * message. Safer for a command log (an outage of the DB worker longer than maxAgeMs loses
   * nothing), but a group that is gone for good pins its partitions' messages until its rows are
   * deleted from the offsets table. False deletes by age alone, as Kafka's retention.ms does.
   * (Default: true)
   */
  onlyConsumed?: boolean;
  /** How often each transport instance sweeps. (Default: 60_000 ms) */
  intervalMs?: number;
  /** Most rows one DELETE removes, so a sweep never holds long locks. (Default: 10_000) */
  batchSize?: number;
}

/** Where a reported error came from: 'handler' errors are redelivered, the rest are infrastructure. */
export type ErrorSource = 'handler' | 'commit' | 'fetch' | 'membership' | 'listener' | 'pool' | 'retention';

export interface PostgresTransportOptions {
  /** A pool to use. The transport never ends a pool it was given. */
  pool?: pg.Pool;
  /** Used to create a pool (ended by close()) when `pool` is not given. */
  connectionString?: string;
  /** Schema holding the log's tables, created on first use. Lowercase identifier. (Default: 'kitsune_log') */
  schema?: string;
  /** Partitions of a topic created implicitly by publish() or subscribe(). (Default: 1, as Kafka's num.partitions) */
  partitionsDefault?: number;
  /** Fallback poll when no notification arrives (NOTIFY is the normal wake-up). (Default: 1_000 ms) */
  pollIntervalMs?: number;
  /**
   * How long a member keeps its partitions without a heartbeat; heartbeats run every third of
   * it. A killed process's partitions move after at most about 1.3 × this. (Default: 10_000 ms)
   */
  leaseTtlMs?: number;
  /** Most messages written in one transaction when concurrent publish() calls are coalesced. (Default: 1_000) */
  maxMessagesPerWrite?: number;
  /** Retention sweep; false disables it in this instance. */
  retention?: RetentionOptions | false;
  /** Receives errors the transport handles itself (it retries). (Default: infrastructure errors to stderr) */
  onError?: (error: Error, source: ErrorSource) => void;
}

export const defaults = {
  schema: 'kitsune_log',
  partitionsDefault: 1,
  pollIntervalMs: 1_000,
  leaseTtlMs: 10_000,
  maxMessagesPerWrite: 1_000,
  /** Pause before the membership loop or the listener tries again after a failure. */
  retryDelayMs: 1_000,
  /** For a pool the transport creates: fail fast instead of hanging when the server is unreachable. */
  connectionTimeoutMs: 5_000,
  retention: { maxAgeMs: 7 * 24 * 60 * 60 * 1_000, onlyConsumed: true, intervalMs: 60_000, batchSize: 10_000 },
  maxBatchSize: 500,
  redeliveryDelayMs: 200,
} as const satisfies Record<string, unknown>;

export interface Settings {
  schema: string;
  partitionsDefault: number;
  pollIntervalMs: number;
  leaseTtlMs: number;
  maxMessagesPerWrite: number;
  retryDelayMs: number;
  retention: Required<RetentionOptions> | false;
}

const identifier = /^[a-z_][a-z0-9_]{0,47}$/;

function positiveInteger(problems: string[], field: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) problems.push(`${field} must be a positive integer, got ${value}`);
}

/** Applies defaults; throws one KITSUNE_INVALID_CONFIG error listing every problem. */
export function resolveSettings(options: PostgresTransportOptions): Settings {
  const problems: string[] = [];
  if (!options.pool && !options.connectionString) problems.push('pool or connectionString is required');
  const schema = options.schema ?? defaults.schema;
  if (!identifier.test(schema)) problems.push(`schema must match ${identifier.source}, got ${JSON.stringify(schema)}`);
  positiveInteger(problems, 'partitionsDefault', options.partitionsDefault);
  positiveInteger(problems, 'pollIntervalMs', options.pollIntervalMs);
  positiveInteger(problems, 'leaseTtlMs', options.leaseTtlMs);
  positiveInteger(problems, 'maxMessagesPerWrite', options.maxMessagesPerWrite);
  if (options.leaseTtlMs !== undefined && options.leaseTtlMs < 300) problems.push('leaseTtlMs must be at least 300');
  const retention = options.retention === false ? false : { ...defaults.retention, ...options.retention };
  if (retention) {
    positiveInteger(problems, 'retention.maxAgeMs', retention.maxAgeMs);
    positiveInteger(problems, 'retention.intervalMs', retention.intervalMs);
    positiveInteger(problems, 'retention.batchSize', retention.batchSize);
  }
  if (problems.length > 0) {
    throw new KitsuneError(ErrorCodes.INVALID_CONFIG, `postgres transport: ${problems.join('; ')}`, { retryable: false });
  }
  return {
    schema,
    partitionsDefault: options.partitionsDefault ?? defaults.partitionsDefault,
    pollIntervalMs: options.pollIntervalMs ?? defaults.pollIntervalMs,
    leaseTtlMs: options.leaseTtlMs ?? defaults.leaseTtlMs,
    maxMessagesPerWrite: options.maxMessagesPerWrite ?? defaults.maxMessagesPerWrite,
    retryDelayMs: Math.min(defaults.retryDelayMs, options.pollIntervalMs ?? defaults.retryDelayMs),
    retention,
  };
}
