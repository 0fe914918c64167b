import type { Registry } from 'prom-client';
import { registerLagMetrics } from '../observability/lag-metrics.ts';
import { createMetricsRegistry } from '../observability/metrics.ts';
import { kitsuneConsumerGroups } from '../transport/from-config.ts';
import type { Runtime } from './runtime.ts';

/**
 * A role's Prometheus registry: process metrics, and the consumer lag of Kitsune's groups read
 * from the broker, which every role exports (see observability/lag-metrics.ts).
 */
export function createRoleMetrics(runtime: Runtime, role: string): Registry {
  const registry = createMetricsRegistry({ service: runtime.config.serviceName, role });
  let failing = false;
  registerLagMetrics(registry, runtime.transport, kitsuneConsumerGroups(runtime.config), {
    onError: (error) => {
      // Once per outage, not once per scrape.
      if (!failing) runtime.logger.warn({ err: error }, 'reading consumer lag failed; lag metrics are absent until it succeeds');
      failing = true;
    },
    onSuccess: () => {
      if (failing) runtime.logger.info('reading consumer lag works again');
      failing = false;
    },
  });
  return registry;
}
