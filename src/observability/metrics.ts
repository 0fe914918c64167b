/**
 * Prometheus metrics: one registry per process, labelled with the service and role, served at
 * /metrics by whichever process owns it. Components register their own counters on it (see
 * apps/log-worker/metrics.ts); a component given no registry keeps plain in-process counters.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createMetricsRegistry(options: { service: string; role: string; defaultMetrics?: boolean }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service, role: options.role });
  // Process CPU, memory, event-loop lag and GC: collected on scrape, no timers of their own.
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
