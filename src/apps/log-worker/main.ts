/**
 * `kitsune log-worker` (and the log worker inside `kitsune start`): picks the sink from the
 * configuration, wires the worker to the transport and starts it. Stopping is the caller's, on
 * SIGTERM: RunningLogWorker.stop() finishes in-flight pushes, commits and leaves the group.
 */
import type { Registry } from 'prom-client';
import type { Runtime } from '../../cli/runtime.ts';
import { ErrorCodes, KitsuneError } from '../../errors.ts';
import type { PushRetryInfo } from '../../loki/index.ts';
import { createLogWorker, type LogWorker } from './build.ts';
import { createLokiSink } from './loki-sink.ts';
import { LogWorkerMetrics } from './metrics.ts';
import { createPostgresSink } from './postgres-sink.ts';
import type { LogSink } from './sink.ts';

export interface RunningLogWorker {
  readonly worker: LogWorker;
  readonly sink: LogSink['name'];
  /** Graceful stop; idempotent. Does not close the transport or the pool (the runtime owns them). */
  stop(): Promise<void>;
}

/**
 * Starts the worker on the runtime's transport. Without LOKI_URL the sink is kitsune.logs, which
 * the runtime's migrations created. `registry` exports the worker's metrics to Prometheus.
 */
export async function startLogWorker(runtime: Pick<Runtime, 'config' | 'transport' | 'pool' | 'logger'>, registry?: Registry): Promise<RunningLogWorker> {
  const { config, transport, pool, logger } = runtime;
  const metrics = new LogWorkerMetrics(registry);
  let sink: LogSink;
  if (config.lokiUrl) {
    sink = createLokiSink({
      url: config.lokiUrl,
      tenant: config.lokiTenant,
      serviceName: config.serviceName,
      batchBytes: config.lokiBatchBytes,
      batchWaitMs: config.lokiBatchWaitMs,
      timeoutMs: config.lokiTimeoutMs,
      compression: config.lokiCompression,
      metrics,
      onRetry: (info: PushRetryInfo) =>
        logger.warn({ failure: info.failure, attempt: info.attempt, delayMs: info.delayMs, entries: info.entries, err: info.error }, 'Loki push failed; retrying'),
    });
  } else {
    if (!pool) {
      throw new KitsuneError(ErrorCodes.INVALID_CONFIG, 'the log worker needs LOKI_URL, or POSTGRES_DSN to keep logs in PostgreSQL', { retryable: false });
    }
    sink = createPostgresSink({
      pool,
      metrics,
      onRetry: (error, attempt, delayMs) => logger.warn({ attempt, delayMs, err: error }, 'storing log lines in PostgreSQL failed; retrying'),
    });
  }
  const worker = createLogWorker({
    subscriber: transport,
    publisher: transport,
    messagingSystem: transport.name,
    sink,
    topic: config.topics.appLogs,
    group: `${config.groupId}.log-worker`,
    metrics,
    logger: logger.child({ component: 'log-worker' }),
  });
  await worker.start();
  return { worker, sink: sink.name, stop: () => worker.stop() };
}
