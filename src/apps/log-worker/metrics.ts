/**
 * The log worker's counters: kept in process (counters(), for tests and logs) and, when given a
 * prom-client registry, exported as Prometheus metrics. Reasons are closed lists (DeadLetterReasons,
 * LokiFailures), so label cardinality stays bounded.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { PushInfo, PushRetryInfo } from '../../loki/index.ts';
import type { DeadLetterReason } from './sink.ts';

export interface LogWorkerCounters {
  /** Records handed to the worker (redeliveries included). */
  readonly received: number;
  /** Lines the sink stored, by sink (a redelivered line may count twice; the sink keeps one). */
  readonly delivered: ReadonlyMap<string, number>;
  readonly deadLettered: ReadonlyMap<DeadLetterReason, number>;
  /**
   * Lines neither delivered nor dead-lettered, by reason. The worker has no such path (a line
   * it cannot place is redelivered, never skipped), so this stays empty; it is exported so a
   * dashboard can alert on it should one ever appear.
   */
  readonly dropped: ReadonlyMap<string, number>;
  /** Sink writes retried, by failure (Loki: rate_limited, server_error, timeout...; postgres_unavailable). */
  readonly retries: ReadonlyMap<string, number>;
  /** Loki push attempts, by outcome ('accepted' or the failure). */
  readonly pushes: ReadonlyMap<string, number>;
}

function bump<K>(map: Map<K, number>, key: K, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

interface PromMetrics {
  received: Counter;
  delivered: Counter<'sink'>;
  deadLettered: Counter<'reason'>;
  dropped: Counter<'reason'>;
  retries: Counter<'reason'>;
  pushDuration: Histogram<'outcome'>;
}

function register(registry: Registry): PromMetrics {
  const registers = [registry];
  return {
    received: new Counter({ name: 'kitsune_log_lines_received_total', help: 'app-logs records handed to the log worker, redeliveries included', registers }),
    delivered: new Counter({ name: 'kitsune_log_lines_pushed_total', help: 'Log lines stored by the sink (Loki accepted them, or they were written to kitsune.logs)', labelNames: ['sink'], registers }),
    deadLettered: new Counter({ name: 'kitsune_log_lines_dead_lettered_total', help: 'Log lines sent to the app-logs DLQ, by reason', labelNames: ['reason'], registers }),
    dropped: new Counter({ name: 'kitsune_log_lines_dropped_total', help: 'Log lines neither stored nor dead-lettered, by reason (expected to stay 0)', labelNames: ['reason'], registers }),
    retries: new Counter({ name: 'kitsune_log_sink_retries_total', help: 'Log sink writes (Loki pushes, PostgreSQL inserts) retried, by failure', labelNames: ['reason'], registers }),
    pushDuration: new Histogram({
      name: 'kitsune_loki_push_duration_seconds',
      help: 'Latency of Loki push requests, by outcome',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
}

export class LogWorkerMetrics {
  #received = 0;
  readonly #delivered = new Map<string, number>();
  readonly #deadLettered = new Map<DeadLetterReason, number>();
  readonly #dropped = new Map<string, number>();
  readonly #retries = new Map<string, number>();
  readonly #pushes = new Map<string, number>();
  readonly #prom: PromMetrics | undefined;

  /** With a registry the metrics are also exported; register one LogWorkerMetrics per registry. */
  constructor(registry?: Registry) {
    this.#prom = registry === undefined ? undefined : register(registry);
  }

  received(count: number): void {
    this.#received += count;
    this.#prom?.received.inc(count);
  }

  delivered(sink: string, count: number): void {
    if (count === 0) return;
    bump(this.#delivered, sink, count);
    this.#prom?.delivered.inc({ sink }, count);
  }

  deadLettered(reason: DeadLetterReason, count = 1): void {
    bump(this.#deadLettered, reason, count);
    this.#prom?.deadLettered.inc({ reason }, count);
  }

  /** For the Loki batcher's onPush hook. */
  readonly pushed = (info: PushInfo): void => {
    bump(this.#pushes, info.outcome, 1);
    this.#prom?.pushDuration.observe({ outcome: info.outcome }, info.durationMs / 1000);
  };

  /** For the Loki batcher's onRetry hook. */
  readonly retried = (info: PushRetryInfo): void => this.retry(info.failure);

  /** A sink write that failed transiently and will be tried again. */
  retry(reason: string): void {
    bump(this.#retries, reason, 1);
    this.#prom?.retries.inc({ reason });
  }

  snapshot(): LogWorkerCounters {
    return {
      received: this.#received,
      delivered: new Map(this.#delivered),
      deadLettered: new Map(this.#deadLettered),
      dropped: new Map(this.#dropped),
      retries: new Map(this.#retries),
      pushes: new Map(this.#pushes),
    };
  }
}
