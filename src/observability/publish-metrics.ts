/**
 * Publish metrics for a Publisher: records by topic and outcome, latency by topic, and failures by
 * the broker's error code. Topics come from configuration and codes from closed lists (Kafka's
 * protocol error names, Kitsune's and the Kafka client's error codes), so labels stay bounded.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { OutgoingMessage, Publisher } from '../transport/types.ts';

const codePattern = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * The most specific code an error carries: a Kafka protocol error name (`apiId`, e.g.
 * NOT_ENOUGH_REPLICAS) found on it, its causes or the errors it aggregates, else its own `code`
 * (KITSUNE_*, PLT_KFK_*, a SQLSTATE), else "unknown".
 */
export function errorCodeOf(error: unknown, depth = 0): string {
  if (typeof error !== 'object' || error === null || depth > 5) return 'unknown';
  const { apiId, code, cause, errors } = error as { apiId?: unknown; code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof apiId === 'string' && codePattern.test(apiId)) return apiId;
  const inner: unknown[] = Array.isArray(errors) ? [...(errors as unknown[]), cause] : [cause];
  for (const nested of inner) {
    const found = nested === undefined || nested === error ? 'unknown' : errorCodeOf(nested, depth + 1);
    if (found !== 'unknown' && !found.startsWith('KITSUNE_')) return found;
  }
  if (typeof code === 'string' && codePattern.test(code)) return code;
  return 'unknown';
}

/** Wraps `publisher` so every publish() is counted and timed in `registry`. */
export function instrumentPublisher(publisher: Publisher, registry: Registry): Publisher {
  const records = new Counter({
    name: 'kitsune_publish_records_total',
    help: 'Records handed to the broker, by topic and outcome (acknowledged, failed)',
    labelNames: ['topic', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'kitsune_publish_duration_seconds',
    help: 'Time from publish() to the broker acknowledging every record of the call (acks=all), by topic',
    labelNames: ['topic'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'kitsune_publish_errors_total',
    help: 'Failed publish calls, by topic and the broker or client error code',
    labelNames: ['topic', 'code'] as const,
    registers: [registry],
  });
  return {
    async publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
      const end = duration.startTimer({ topic });
      try {
        await publisher.publish(topic, messages);
        records.inc({ topic, outcome: 'acknowledged' }, messages.length);
      } catch (error) {
        records.inc({ topic, outcome: 'failed' }, messages.length);
        failures.inc({ topic, code: errorCodeOf(error) });
        throw error;
      } finally {
        end();
      }
    },
  };
}
