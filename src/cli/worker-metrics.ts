import type { Registry } from 'prom-client';
import type { Config } from '../config/index.ts';
import { serveMetrics } from '../observability/metrics-server.ts';
import type { Logger } from 'pino';

/** Serves a standalone worker's metrics on KITSUNE_METRICS_PORT (or the role's default port). */
export async function serveWorkerMetrics(config: Config, registry: Registry, defaultPort: number, logger: Logger): Promise<() => Promise<void>> {
  const port = config.metricsPort ?? defaultPort;
  if (port === 0) return () => Promise.resolve();
  const server = await serveMetrics(registry, port, config.http.host);
  logger.info({ url: server.url }, 'metrics listening');
  return () => server.close();
}
