import { parseArgs } from 'node:util';
import { startApi } from '../apps/api/main.ts';
import { startDbWorker } from '../apps/db-worker/main.ts';
import { dbWorkerMetrics } from '../apps/db-worker/metrics.ts';
import { startLogWorker } from '../apps/log-worker/main.ts';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { createMetricsRegistry } from '../observability/metrics.ts';
import { openRuntime } from './runtime.ts';
import { onShutdownSignal } from './shutdown.ts';

const help = `usage: kitsune start

Runs the API, the DB worker and the log worker in one process. With nothing configured it needs
nothing installed: PostgreSQL is embedded (data under ./.kitsune), events travel through a
durable log in that database, and logs are kept there and served at GET /logs.

Each setting switches one part to the real service:
  KAFKA_BROKERS    Apache Kafka instead of the Postgres log
  POSTGRES_DSN     your PostgreSQL instead of the embedded one
  LOKI_URL         Grafana Loki instead of the logs table
  HTTP_PORT        API port (default 8080)
`;

export async function runStartCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const started = Date.now();
  loadDotEnv();
  const runtime = await openRuntime(loadConfig(), { role: 'start', allowEmbedded: true, needsPostgres: true });
  const { config, logger } = runtime;
  const metrics = createMetricsRegistry({ service: config.serviceName, role: 'all' });
  try {
    const dbWorker = await startDbWorker(runtime, dbWorkerMetrics(metrics));
    const logWorker = await startLogWorker(runtime, metrics);
    const api = await startApi(runtime, metrics);
    const mode = [
      runtime.embedded ? 'embedded PostgreSQL' : 'PostgreSQL',
      config.kafkaBrokers ? 'Kafka' : 'Postgres log',
      config.lokiUrl ? 'Loki' : 'logs in PostgreSQL',
    ].join(', ');
    logger.info({ url: api.url, seconds: (Date.now() - started) / 1000, mode }, 'Kitsune is ready');
    process.stderr.write(
      `\nKitsune is ready at ${api.url} (${mode}) in ${((Date.now() - started) / 1000).toFixed(1)} s. Try:\n\n` +
        `  curl -s -X POST ${api.url}/execute -H 'content-type: application/json' \\\n` +
        `    -d '{"command":"create_user","version":"1","payload":{"name":"Ada","email":"ada@example.com"},"log":{"level":"INFO","message":"User created"}}'\n` +
        `  curl -s '${api.url}/events/<id>?wait=5'\n\nCtrl-C stops it.\n\n`,
    );
    await onShutdownSignal(logger);
    await api.stop();
    await Promise.all([dbWorker.stop(), logWorker.stop()]);
  } finally {
    await runtime.close();
  }
  logger.info('Kitsune stopped');
  return 0;
}
