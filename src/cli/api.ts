import { parseArgs } from 'node:util';
import { startApi } from '../apps/api/main.ts';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { listenFailure } from './ports.ts';
import { roleAddress } from './preflight.ts';
import { createRoleMetrics } from './role-metrics.ts';
import { openRuntime } from './runtime.ts';
import { listenForShutdown, onShutdownSignal } from './shutdown.ts';

export const help = `usage: kitsune api

Runs the HTTP API: POST /execute, POST /execute/batch, GET /events/:id, GET /logs (the lines kept
in PostgreSQL when LOKI_URL is unset), GET /commands, GET /openapi.json, GET /metrics (Prometheus),
GET /healthz, GET /readyz. Configuration comes from the environment (and .env):

  HTTP_PORT, KITSUNE_HTTP_HOST   where to listen (default 127.0.0.1:8080)
  KAFKA_BROKERS                  Kafka bootstrap servers; without it, events go to the
                                 Postgres log in POSTGRES_DSN
  POSTGRES_DSN                   PostgreSQL: results (GET /events/:id), and the Postgres log
  KITSUNE_REGISTRY               command registry file (default ./commands/registry.yaml)
  KITSUNE_API_KEYS_FILE          API keys; unset means open access
`;

export async function runApiCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  void listenForShutdown();
  loadDotEnv();
  const config = loadConfig();
  const listen = roleAddress('api', config);
  const runtime = await openRuntime(config, { role: 'api', allowEmbedded: false, needsPostgres: false });
  try {
    const api = await startApi(runtime, config.apiMetrics ? createRoleMetrics(runtime, 'api') : undefined).catch((error: unknown) => {
      throw listenFailure(error, listen);
    });
    runtime.defer(() => api.stop());
  } catch (error) {
    await runtime.close();
    throw error;
  }
  await onShutdownSignal(runtime.logger);
  await runtime.close();
  runtime.logger.info('API stopped');
  return 0;
}
