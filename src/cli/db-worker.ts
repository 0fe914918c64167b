import { parseArgs } from 'node:util';
import { startDbWorker } from '../apps/db-worker/main.ts';
import { dbWorkerMetrics } from '../apps/db-worker/metrics.ts';
import { createRoleMetrics } from './role-metrics.ts';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { openRuntime } from './runtime.ts';
import { roleAddress } from './preflight.ts';
import { listenForShutdown, onShutdownSignal } from './shutdown.ts';
import { serveWorkerMetrics } from './worker-metrics.ts';

export const help = `usage: kitsune db-worker

Consumes db-events and runs each command on PostgreSQL exactly once in effect: the idempotency
row and the command's effect commit in one transaction. Applies migrations at start.
Scale out by running more (up to the number of db-events partitions).

  POSTGRES_DSN      PostgreSQL (required)
  KAFKA_BROKERS     Kafka; without it, the Postgres log in POSTGRES_DSN
  KAFKA_GROUP_ID    consumer group prefix (group: <id>.db-worker; default kitsune)
  KITSUNE_METRICS_PORT   Prometheus /metrics (default 9464; 0 disables)
`;

export async function runDbWorkerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  void listenForShutdown();
  loadDotEnv();
  const config = loadConfig();
  const metricsAt = roleAddress('db-worker', config);
  const runtime = await openRuntime(config, { role: 'db-worker', allowEmbedded: false, needsPostgres: true });
  try {
    const metrics = createRoleMetrics(runtime, 'db-worker');
    const worker = await startDbWorker(runtime, dbWorkerMetrics(metrics));
    runtime.defer(() => worker.stop());
    const stopMetrics = await serveWorkerMetrics(metrics, metricsAt, runtime.logger);
    runtime.defer(stopMetrics);
  } catch (error) {
    await runtime.close();
    throw error;
  }
  await onShutdownSignal(runtime.logger);
  await runtime.close();
  runtime.logger.info('DB worker stopped');
  return 0;
}
