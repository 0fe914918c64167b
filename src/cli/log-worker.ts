import { parseArgs } from 'node:util';
import { startLogWorker, type RunningLogWorker } from '../apps/log-worker/main.ts';
import type { LogWorkerCounters } from '../apps/log-worker/metrics.ts';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { createRoleMetrics } from './role-metrics.ts';
import { openRuntime } from './runtime.ts';
import { roleAddress } from './preflight.ts';
import { listenForShutdown, onShutdownSignal } from './shutdown.ts';
import { serveWorkerMetrics } from './worker-metrics.ts';

export const help = `usage: kitsune log-worker

Consumes app-logs and forwards each line to Loki, or to the kitsune.logs table in PostgreSQL
(served at GET /logs) when LOKI_URL is not set. Lines Loki refuses go to app-logs.dlq with
Loki's reason; offsets are committed only after Loki accepted a line or it was dead-lettered.
Scale out by running more (up to the number of app-logs partitions).

  LOKI_URL                       Loki's base URL, e.g. http://loki:3100 (user:pass@ for Basic auth);
                                 unset: lines go to PostgreSQL (POSTGRES_DSN required)
  KITSUNE_LOKI_TENANT            sent as X-Scope-OrgID
  KITSUNE_LOKI_BATCH_BYTES       push a stream's lines once they reach this size (default 1048576)
  KITSUNE_LOKI_BATCH_WAIT_MS     or once the oldest has waited this long (default 1000)
  KITSUNE_LOKI_TIMEOUT_MS        retry a push not answered within this (default 10000)
  KITSUNE_LOKI_COMPRESSION       gzip, or none for a Loki nearby (default gzip)
  KAFKA_BROKERS                  Kafka; without it, the Postgres log in POSTGRES_DSN
  KAFKA_GROUP_ID                 consumer group prefix (group: <id>.log-worker; default kitsune)
  KITSUNE_METRICS_PORT           Prometheus /metrics and /healthz (default 9465; 0 disables)
`;

export async function runLogWorkerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  void listenForShutdown();
  loadDotEnv();
  const config = loadConfig();
  const metricsAt = roleAddress('log-worker', config);
  const runtime = await openRuntime(config, { role: 'log-worker', allowEmbedded: false, needsPostgres: config.lokiUrl === undefined });
  let worker: RunningLogWorker;
  try {
    const registry = createRoleMetrics(runtime, 'log-worker');
    worker = await startLogWorker(runtime, registry);
    runtime.defer(() => worker.stop());
    runtime.defer(await serveWorkerMetrics(registry, metricsAt, runtime.logger));
    runtime.logger.info({ sink: worker.sink, topic: config.topics.appLogs }, 'log worker started');
  } catch (error) {
    await runtime.close();
    throw error;
  }
  await onShutdownSignal(runtime.logger);
  await runtime.close();
  runtime.logger.info({ counters: plain(worker.worker.counters()) }, 'log worker stopped');
  return 0;
}

/** The counters with their Maps as objects, for the last log line. */
function plain(counters: LogWorkerCounters): Record<string, unknown> {
  return Object.fromEntries(Object.entries(counters).map(([name, value]) => [name, value instanceof Map ? Object.fromEntries(value) : value]));
}
