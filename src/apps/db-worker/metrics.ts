/**
 * The DB worker's Prometheus metrics. Labels are closed lists (status, command and version from
 * the registry, breaker state, KITSUNE_* failure codes), so cardinality stays bounded.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CircuitState } from '../../transport/circuit-breaker.ts';
import { OutcomeStatuses } from '../../execution/index.ts';
import type { DbWorkerHooks } from './worker.ts';

/** KITSUNE_STATEMENT_FAILED → statement_failed; anything outside that closed form → other. */
export function reasonLabel(code: string | undefined): string {
  const match = code === undefined ? null : /^KITSUNE_([A-Z_]{1,48})$/.exec(code);
  return match ? match[1]!.toLowerCase() : 'other';
}

const breakerLevels: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

/** Hooks for createDbWorker that feed `registry`. */
export function dbWorkerMetrics(registry: Registry): DbWorkerHooks {
  const events = new Counter({
    name: 'kitsune_db_events_total',
    help: 'Events handled by the DB worker, by outcome (succeeded, duplicate, conflict, dead_lettered), command and version',
    labelNames: ['status', 'command', 'version'] as const,
    registers: [registry],
  });
  const deadLetters = new Counter({
    name: 'kitsune_db_dead_letters_total',
    help: 'Events the DB worker sent to the db-events DLQ, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'kitsune_db_retries_total',
    help: 'Events handed back for redelivery after their batch failed, by reason (unavailable, circuit_open, ...)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const batches = new Histogram({
    name: 'kitsune_db_batch_duration_seconds',
    help: 'Time to run one polled batch in one transaction, including publishing its outcomes',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'kitsune_db_batch_events',
    help: 'Events per batch transaction',
    buckets: [1, 10, 50, 100, 250, 500, 1000],
    registers: [registry],
  });
  const breaker = new Gauge({
    name: 'kitsune_db_breaker_state',
    help: 'DB worker circuit breaker: 0 closed, 1 half open (probing), 2 open (consumption paused)',
    registers: [registry],
  });
  const transitions = new Counter({
    name: 'kitsune_db_breaker_transitions_total',
    help: 'Circuit breaker state changes, by the state entered',
    labelNames: ['to'] as const,
    registers: [registry],
  });
  breaker.set(0);
  return {
    onOutcome: (status, command, version, failureCode) => {
      events.inc({ status, command, version });
      if (status === OutcomeStatuses.deadLettered) deadLetters.inc({ reason: reasonLabel(failureCode) });
    },
    onRetry: ({ code, events }) => retries.inc({ reason: reasonLabel(code) }, events),
    onBatch: (size, seconds) => {
      batches.observe(seconds);
      batchSize.observe(size);
    },
    onBreakerChange: (_from, to) => {
      breaker.set(breakerLevels[to]);
      transitions.inc({ to });
    },
  };
}
