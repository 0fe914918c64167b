import { parseArgs } from 'node:util';
import { startApi } from '../apps/api/main.ts';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { openRuntime } from './runtime.ts';
import { onShutdownSignal } from './shutdown.ts';

const help = `usage: kitsune api

Runs the HTTP API: POST /execute, POST /execute/batch, GET /events/:id, GET /commands,
GET /openapi.json, GET /healthz, GET /readyz. Configuration comes from the environment (and .env):

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
  loadDotEnv();
  const runtime = await openRuntime(loadConfig(), { role: 'api', allowEmbedded: false, needsPostgres: false });
  const api = await startApi(runtime);
  await onShutdownSignal(runtime.logger);
  await api.stop();
  await runtime.close();
  runtime.logger.info('API stopped');
  return 0;
}
