import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { serveMetrics } from '../observability/metrics-server.ts';
import { listenFailure, type ListenAddress } from './ports.ts';

/** Serves a standalone worker's metrics at `at` (port 0: not served); returns how to stop. Exit 5 when the port is taken. */
export async function serveWorkerMetrics(registry: Registry, at: ListenAddress, logger: Logger): Promise<() => Promise<void>> {
  if (at.port === 0) return () => Promise.resolve();
  const server = await serveMetrics(registry, at.port, at.host).catch((error: unknown) => {
    throw listenFailure(error, at);
  });
  logger.info({ url: server.url }, 'metrics listening');
  return () => server.close();
}
