/**
 * createDbWorker(deps): consumes db-events and runs each command on PostgreSQL exactly once in
 * effect (see src/execution/), publishes every outcome to db-results and every dead letter to
 * db-events.dlq, and pauses consumption through a circuit breaker while PostgreSQL is down, so
 * an outage never sends an event to the DLQ.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { backoffMs, wait } from '../../backoff.ts';
import type { Registry } from '../../commands/index.ts';
import { ErrorCodes, KitsuneError } from '../../errors.ts';
import { PartialBatchError } from '../../transport/partial-batch.ts';
import { CircuitBreaker, type CircuitState } from '../../transport/circuit-breaker.ts';
import type { EventSchemaCheck } from '../../schema-registry/index.ts';
import type { ReceivedMessage, Subscription, Transport } from '../../transport/types.ts';
import { traceBatch, type BatchTrace } from './tracing.ts';
import { DatabaseUnavailableError, EventRetryError, executeBatch, OutcomeStatuses, type Outcome, type OutcomeStatus } from '../../execution/index.ts';
import { publishOutcomes } from './outcome-records.ts';

export interface DbWorkerOptions {
  /** Most events per transaction. (Default: 500) */
  maxBatchSize: number;
  /** Transient failures of one event before it is dead-lettered; outages do not count. (Default: 10) */
  maxTransientAttempts: number;
  /** Ceiling of the first backoff after a failed batch (src/backoff.ts); doubles per consecutive failure of the partition. (Default: 100 ms) */
  retryBaseMs: number;
  /** (Default: 5_000 ms) */
  retryMaxMs: number;
  /** Jitter of the backoff, uniform in [0, 1); tests pin it. (Default: Math.random) */
  random?: () => number;
  /** Consecutive batches failed by a PostgreSQL outage that open the breaker; no other failure counts. (Default: 3) */
  breakerThreshold: number;
  /** First breaker cool-down before probing with `SELECT 1`; doubles up to 30 s. (Default: 1_000 ms) */
  breakerOpenMs: number;
}

export const dbWorkerDefaults = {
  maxBatchSize: 500,
  maxTransientAttempts: 10,
  retryBaseMs: 100,
  retryMaxMs: 5_000,
  breakerThreshold: 3,
  breakerOpenMs: 1_000,
} satisfies DbWorkerOptions;

export interface DbWorkerHooks {
  /** `failureCode`: why a dead-lettered or conflicting event failed (a closed list of KITSUNE_* codes). */
  onOutcome?: (status: OutcomeStatus, command: string, version: string, failureCode: string | undefined) => void;
  onBreakerChange?: (from: CircuitState, to: CircuitState) => void;
  onBatch?: (size: number, seconds: number) => void;
  /** A batch failed and will be redelivered after `delayMs`; `failures` counts its partition's consecutive ones. */
  onRetry?: (info: BatchRetryInfo) => void;
}

export interface BatchRetryInfo {
  partition: number;
  failures: number;
  delayMs: number;
  /** Events of the batch that will be delivered again (those before a partial failure were acknowledged). */
  events: number;
  /** Why, as a KITSUNE_* code where the error has one; `unknown` otherwise. */
  code: string;
  /** The system at fault, as the log line names it. */
  system: FailedSystem;
  error: unknown;
}

/** Who failed a batch: PostgreSQL down, one event's transient SQLSTATE, or the broker that did not take the results. */
export type FailedSystem = 'postgresql' | 'postgresql-transient' | 'broker' | 'schema-registry' | 'breaker' | 'unknown';

export interface DbWorkerDeps {
  transport: Transport;
  pool: pg.Pool;
  registry: Registry;
  topics: { dbEvents: string; dbResults: string };
  group: string;
  logger: Logger;
  options?: Partial<DbWorkerOptions>;
  hooks?: DbWorkerHooks;
  /** Checks records against the schemas they name (schema registry); its rejections are dead-lettered. */
  checkEvents?: EventSchemaCheck;
}

export interface DbWorker {
  start(): Promise<void>;
  /** Finishes in-flight batches, commits, leaves the group. Idempotent; safe before start(). */
  stop(): Promise<void>;
  readonly breakerState: CircuitState;
}

/** The start of the log line of a failed batch: it names the system at fault. */
const failureLines = (broker: string): Record<FailedSystem, string> => ({
  postgresql: 'PostgreSQL is unavailable',
  'postgresql-transient': 'an event failed transiently in PostgreSQL (serialization, deadlock, lock or statement timeout)',
  broker: `${broker} did not accept the batch's results or dead letters`,
  'schema-registry': 'the schema registry could not check the batch',
  breaker: 'the circuit breaker is open (PostgreSQL is unavailable)',
  unknown: 'the batch failed',
});

function failedSystem(error: unknown): FailedSystem {
  const cause = error instanceof PartialBatchError ? error.cause : error;
  if (cause instanceof DatabaseUnavailableError) return 'postgresql';
  if (cause instanceof EventRetryError) return 'postgresql-transient';
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (code === ErrorCodes.CIRCUIT_OPEN) return 'breaker';
  if (code === ErrorCodes.PUBLISH_FAILED || code === ErrorCodes.TRANSPORT_CLOSED) return 'broker';
  return 'unknown';
}

export function createDbWorker(deps: DbWorkerDeps): DbWorker {
  const options: DbWorkerOptions = { ...dbWorkerDefaults, ...deps.options };
  const { logger } = deps;
  const dlqTopic = `${deps.topics.dbEvents}.dlq`;
  const abort = new AbortController();
  const failuresByPartition = new Map<number, number>();
  const lines = failureLines(deps.transport.name === 'kafka' ? 'Kafka' : 'the Postgres log');
  let subscription: Subscription | undefined;
  let stopping: Promise<void> | undefined;

  const breaker = new CircuitBreaker({
    failureThreshold: options.breakerThreshold,
    openMs: options.breakerOpenMs,
    maxOpenMs: 30_000,
    probe: async () => void (await deps.pool.query('SELECT 1')),
    // PostgreSQL's outages only: a lock timeout is one event's, a failed publish is the broker's.
    counts: (error) => error instanceof DatabaseUnavailableError,
    onStateChange: (from, to, info) => {
      const fields = { from, to, consecutiveFailures: info.consecutiveFailures, err: info.error };
      if (to === 'open') logger.warn({ ...fields, openMs: info.openMs }, 'circuit breaker opened: pausing consumption until PostgreSQL answers');
      else logger.info(fields, `circuit breaker ${to}`);
      deps.hooks?.onBreakerChange?.(from, to);
    },
  });

  const publish = async (outcomes: readonly Outcome[], traced: BatchTrace | undefined): Promise<void> => {
    if (outcomes.length === 0) return;
    traced?.executed(outcomes);
    await publishOutcomes(deps.transport, { dbResults: deps.topics.dbResults, dlq: dlqTopic }, outcomes, logger, traced && ((record, outcome) => traced.withContext(record, outcome)));
    for (const outcome of outcomes) {
      // Labels only from the registry: a record naming anything else counts as unknown.
      const entry = outcome.event && deps.registry.get(outcome.event.command, outcome.event.version);
      deps.hooks?.onOutcome?.(outcome.status, entry?.command ?? 'unknown', entry?.version ?? 'unknown', outcome.failure?.code);
      if (outcome.status === OutcomeStatuses.deadLettered) {
        const { eventId, failure, unrecorded, message } = outcome;
        const warn = (): void =>
          logger.warn({ eventId, ...failure, partition: message.partition, offset: String(message.offset), ...(unrecorded ? { unrecorded } : {}) }, 'event dead-lettered');
        if (traced) traced.inContext(outcome, warn);
        else warn();
      }
    }
  };

  /** Kitsune's backoff per partition (src/backoff.ts), so a failing partition does not spin. */
  const backOff = async (partition: number, error: unknown, system: FailedSystem, events: number): Promise<void> => {
    const failures = (failuresByPartition.get(partition) ?? 0) + 1;
    failuresByPartition.set(partition, failures);
    const delayMs = backoffMs(failures, { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs, ...(options.random ? { random: options.random } : {}) });
    const cause = error instanceof PartialBatchError ? error.cause : error;
    const code = cause instanceof KitsuneError ? cause.code : 'unknown';
    const retried = events - (error instanceof PartialBatchError ? error.acknowledged : 0);
    logger.warn({ err: error, partition, events: retried, failures, delayMs, system }, `${lines[system]}; the batch is retried in ${delayMs} ms`);
    deps.hooks?.onRetry?.({ partition, failures, delayMs, events: retried, code, system, error });
    await wait(delayMs, abort.signal);
  };

  const handle = async (batch: readonly ReceivedMessage[]): Promise<void> => {
    const partition = batch[0]?.partition ?? 0;
    const started = process.hrtime.bigint();
    const traced = traceBatch(batch, { group: deps.group, system: deps.transport.name, registry: deps.registry });
    let checking = false;
    try {
      // Outside the breaker: a schema registry that cannot answer is not a database outage.
      checking = true;
      const rejected = await deps.checkEvents?.(batch);
      checking = false;
      await breaker.execute(async () => {
        try {
          await publish(await executeBatch(deps.pool, deps.registry, batch, rejected ? { ...options, rejected } : options), traced);
        } catch (error) {
          if (!(error instanceof EventRetryError)) throw error;
          await publish(error.outcomes, traced);
          throw error.index > 0 ? new PartialBatchError(error.index, error) : error;
        }
      });
      failuresByPartition.delete(partition);
      traced?.end();
      deps.hooks?.onBatch?.(batch.length, Number(process.hrtime.bigint() - started) / 1e9);
    } catch (error) {
      traced?.end(error);
      await backOff(partition, error, checking ? 'schema-registry' : failedSystem(error), batch.length);
      throw error;
    }
  };

  return {
    get breakerState() {
      return breaker.state;
    },
    async start() {
      await deps.transport.ensureTopics([{ name: dlqTopic, partitions: 1 }]);
      subscription = await deps.transport.subscribeBatch(deps.topics.dbEvents, handle, {
        group: deps.group,
        maxBatchSize: options.maxBatchSize,
        redeliveryDelayMs: 10,
      });
      breaker.attach(subscription);
      logger.info({ topic: deps.topics.dbEvents, group: deps.group }, 'DB worker consuming');
    },
    stop() {
      stopping ??= (async () => {
        abort.abort();
        breaker.close();
        await subscription?.close();
      })();
      return stopping;
    },
  };
}
