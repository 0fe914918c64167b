import { parseArgs } from 'node:util';
import { startApi } from '../apps/api/main.ts';
import { startDbWorker } from '../apps/db-worker/main.ts';
import { dbWorkerMetrics } from '../apps/db-worker/metrics.ts';
import { startLogWorker } from '../apps/log-worker/main.ts';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { createRoleMetrics } from './role-metrics.ts';
import { listenFailure } from './ports.ts';
import { roleAddress } from './preflight.ts';
import { openRuntime } from './runtime.ts';
import { listenForShutdown, onShutdownSignal } from './shutdown.ts';

export const help = `usage: kitsune start

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
  void listenForShutdown();
  loadDotEnv();
  const config = loadConfig();
  const listen = roleAddress('start', config);
  const runtime = await openRuntime(config, { role: 'start', allowEmbedded: true, needsPostgres: true });
  const { logger } = runtime;
  const metrics = createRoleMetrics(runtime, 'all');
  let url: string;
  try {
    const dbWorker = await startDbWorker(runtime, dbWorkerMetrics(metrics));
    runtime.defer(() => dbWorker.stop());
    const logWorker = await startLogWorker(runtime, metrics);
    runtime.defer(() => logWorker.stop());
    const api = await startApi(runtime, metrics).catch((error: unknown) => {
      throw listenFailure(error, listen);
    });
    runtime.defer(() => api.stop());
    url = api.url;
    await runtime.instance?.claim.update({ url });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const mode = [
    runtime.embedded ? 'embedded PostgreSQL' : 'PostgreSQL',
    config.kafkaBrokers ? 'Kafka' : 'Postgres log',
    config.lokiUrl ? 'Loki' : 'logs in PostgreSQL',
  ].join(', ');
  const seconds = (Date.now() - started) / 1000;
  logger.info({ url, seconds, mode }, 'Kitsune is ready');
  // Printed only now that the API listens, so the curl below answers.
  process.stderr.write(
    `\nKitsune is ready at ${url} (${mode}) in ${seconds.toFixed(1)} s. Try:\n\n` +
      `  curl -s -X POST ${url}/execute -H 'content-type: application/json' \\\n` +
      `    -d '{"command":"create_user","version":"1","payload":{"name":"Ada","email":"ada@example.com"},"log":{"level":"INFO","message":"User created"}}'\n` +
      `  curl -s '${url}/events/<id>?wait=5'\n\nOr open ${url}/console in a browser. Ctrl-C stops it.\n\n`,
  );
  await onShutdownSignal(logger);
  // The API stops first (no new commands), then the log worker and the DB worker finish what they hold.
  await runtime.close();
  logger.info('Kitsune stopped');
  return 0;
}
