/**
 * The last 15 minutes of the process's own metrics, sampled every 10 s, so the console's
 * overview has its sparklines the moment it opens. It reads the same Prometheus registry that
 * GET /metrics serves; nothing is counted twice.
 *
 * Cost: one registry read per 10 s (the lag gauges' own 5 s cache answers most of them) and
 * 91 samples of a few numbers each. Sampling starts with the API and stops when it closes.
 */
import type { MetricValue, Registry } from 'prom-client';

export const historySettings = { everyMs: 10_000, windowMs: 15 * 60_000 } as const;

type Labels = Record<string, string | number | undefined>;

export interface Sample {
  at: number;
  /** Counter totals; undefined where the family is not in this process. */
  accepted: number | undefined;
  executed: number | undefined;
  failed: number | undefined;
  lagRecords: number | undefined;
}

/** The families each figure is read from, first present wins (newer families first). */
export const families = {
  accepted: [
    { name: 'kitsune_publish_records_total', where: (l: Labels) => l.outcome === 'acknowledged' && String(l.topic ?? '').endsWith('db-events') && !String(l.topic).endsWith('.dlq') },
    { name: 'kitsune_http_request_duration_seconds_count', where: (l: Labels) => l.route === '/execute' && l.status === '202' },
  ],
  executed: [{ name: 'kitsune_db_events_total', where: (l: Labels) => l.status === 'succeeded' || l.status === 'duplicate' }],
  failed: [{ name: 'kitsune_db_events_total', where: (l: Labels) => l.status === 'dead_lettered' }],
} as const;

export type MetricsSnapshot = ReadonlyMap<string, ReadonlyArray<MetricValue<string>>>;

/**
 * Every value of every family, by sample name (a histogram's `_count` is its own name). A family
 * this process registers but has not counted yet (a labelled counter before its first event) is
 * present with no values, so it reads as 0 rather than as "not in this process".
 */
export async function snapshot(registry: Registry): Promise<MetricsSnapshot> {
  const byName = new Map<string, Array<MetricValue<string>>>();
  for (const family of await registry.getMetricsAsJSON()) {
    const names = String(family.type) === 'histogram' ? [`${family.name}_count`, `${family.name}_sum`, `${family.name}_bucket`] : [family.name];
    for (const name of names) if (!byName.has(name)) byName.set(name, []);
    for (const value of family.values) {
      const name = (value as { metricName?: string }).metricName ?? family.name;
      const list = byName.get(name) ?? [];
      list.push(value);
      byName.set(name, list);
    }
  }
  return byName;
}

/** The sum of the values of the first family present that match, or undefined. */
export function total(metrics: MetricsSnapshot, sources: ReadonlyArray<{ name: string; where: (labels: Labels) => boolean }>): number | undefined {
  for (const source of sources) {
    const values = metrics.get(source.name);
    if (!values) continue;
    return values.filter((v) => source.where(v.labels)).reduce((sum, v) => sum + v.value, 0);
  }
  return undefined;
}

export class OverviewHistory {
  readonly #registry: Registry;
  readonly #samples: Sample[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  start(): void {
    if (this.#timer) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), historySettings.everyMs);
    this.#timer.unref();
  }

  /** Takes one sample now; a failed read is skipped (the next one tries again). */
  async sample(now = Date.now()): Promise<void> {
    try {
      const metrics = await snapshot(this.#registry);
      const lag = metrics.get('kitsune_consumer_lag_records');
      this.#samples.push({
        at: now,
        accepted: total(metrics, families.accepted),
        executed: total(metrics, families.executed),
        failed: total(metrics, families.failed),
        lagRecords: lag ? lag.filter((v) => String(v.labels.group ?? '').endsWith('.db-worker')).reduce((sum, v) => sum + v.value, 0) : undefined,
      });
      while (this.#samples.length > 0 && this.#samples[0]!.at < now - historySettings.windowMs) this.#samples.shift();
    } catch {
      // A collector failed (the broker blinked while reading lag): no sample this time.
    }
  }

  samples(): readonly Sample[] {
    return this.#samples;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Per-second rates between consecutive samples; a counter reset (restart) counts from zero. */
export function rates(samples: readonly Sample[], field: 'accepted' | 'executed' | 'failed'): Array<[number, number]> | null {
  const points: Array<[number, number]> = [];
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1]![field];
    const after = samples[i]![field];
    if (before === undefined || after === undefined) continue;
    const seconds = (samples[i]!.at - samples[i - 1]!.at) / 1000;
    if (seconds <= 0) continue;
    points.push([samples[i]!.at, (after >= before ? after - before : after) / seconds]);
  }
  return samples.some((s) => s[field] !== undefined) ? points : null;
}
