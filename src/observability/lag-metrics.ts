/**
 * Consumer lag as Prometheus gauges, per group, topic and partition, in records and in seconds.
 *
 * Every role exports the lag of Kitsune's groups, read from the broker (or the Postgres log), so
 * it keeps growing while the consumers it measures are stopped, paused by the breaker or stuck:
 * it never depends on the consumer reporting itself. Several processes therefore export the same
 * series (differing in `role` and `instance`); dashboards and alerts take
 * `max by (group, topic, partition)`, never `sum`.
 *
 * Reads are cached for `cacheMs` and shared between concurrent scrapes, so N replicas scraped
 * every 15 s cost the broker N reads per 15 s. A read that fails or exceeds `timeoutMs` counts in
 * kitsune_consumer_lag_read_errors_total and the lag series are absent until a read succeeds
 * (a stale lag would look healthy).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LagQuery, PartitionLag, Transport } from '../transport/types.ts';

export interface LagMetricsOptions {
  /** A reading younger than this is served from memory. (Default: 5_000 ms) */
  cacheMs?: number;
  /** A read slower than this counts as failed, so a scrape never hangs on the broker. (Default: 5_000 ms) */
  timeoutMs?: number;
  onError?: (error: unknown) => void;
  onSuccess?: () => void;
}

type LagLabels = 'group' | 'topic' | 'partition';

export function registerLagMetrics(
  registry: Registry,
  transport: Pick<Transport, 'consumerLag'>,
  queries: readonly LagQuery[],
  options: LagMetricsOptions = {},
): void {
  const cacheMs = options.cacheMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  let reading: { at: number; rows: Promise<PartitionLag[] | undefined> } | undefined;

  const errors = new Counter({
    name: 'kitsune_consumer_lag_read_errors_total',
    help: 'Reads of consumer lag from the broker that failed or timed out (the lag series are absent meanwhile)',
    registers: [registry],
  });

  const read = async (): Promise<PartitionLag[] | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const rows = await Promise.race([
        transport.consumerLag(queries),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`reading consumer lag took longer than ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      options.onSuccess?.();
      return rows;
    } catch (error) {
      errors.inc();
      options.onError?.(error);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };

  /** The current reading: one read per cacheMs, shared by every gauge and concurrent scrape. */
  const current = (): Promise<PartitionLag[] | undefined> => {
    const now = Date.now();
    if (!reading || now - reading.at >= cacheMs) reading = { at: now, rows: read() };
    return reading.rows;
  };

  const gauge = (name: string, help: string, value: (lag: PartitionLag) => number): void => {
    new Gauge<LagLabels>({
      name,
      help,
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
      async collect() {
        const rows = await current();
        this.reset();
        for (const lag of rows ?? []) this.set({ group: lag.group, topic: lag.topic, partition: String(lag.partition) }, value(lag));
      },
    });
  };
  gauge('kitsune_consumer_lag_records', 'Records of the partition the group has not committed (log end offset - committed offset)', (lag) => lag.records);
  gauge('kitsune_consumer_lag_seconds', 'Age of the oldest record the group has not committed; 0 when caught up', (lag) => lag.seconds);
}
