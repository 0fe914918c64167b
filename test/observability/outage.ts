/**
 * What Prometheus shows of a DB worker outage, read from the samples it stored (each with the
 * time of its scrape), so the verdicts rest on what was scraped, not on when the test looked.
 *
 * The bounds come from how lag is exported (src/observability/lag-metrics.ts): a role serves a
 * reading begun at most 5 s before the scrape (its cache), and a scrape waits at most 1 s (the
 * test's scrape timeout) for a new one. While nothing is committed, a partition's lag seconds is
 * `reading time - t0` for a fixed t0, so between two samples of one series it grows by the time
 * between them minus at most those 6 s, on any machine, however slow.
 */
import assert from 'node:assert/strict';
import type { RawSeries, RunningPrometheus } from './prometheus.ts';
import { until } from './until.ts';

const readingAgeSeconds = 6;

/** The first time at which every sample comes from a lag reading begun after `ms`. */
export const afterReadings = (ms: number): number => ms + readingAgeSeconds * 1000;

export interface Rise {
  /** First and last sample times (ms) of the longest series. */
  from: number;
  to: number;
  /** The highest lag seconds sampled. */
  peak: number;
}

const spanOf = (series: RawSeries): number => (series.samples.length < 2 ? 0 : series.samples.at(-1)!.at - series.samples[0]!.at);

/**
 * Waits until Prometheus holds `seconds` of one series of the group's lag seconds sampled after
 * `from`, then asserts that every series (role × partition) only rose, and with the clock, and
 * that every partition of the topic ends behind: the traffic reached each of them.
 */
export async function assertLagRises(prometheus: RunningPrometheus, group: string, from: number, seconds: number, what: string): Promise<Rise> {
  const all = await until(`${seconds} s of lag samples while ${what}`, (seconds + 120) * 1000, async () => {
    const found = await prometheus.samples(`kitsune_consumer_lag_seconds{group="${group}"}`, from);
    return found.some((s) => spanOf(s) >= seconds * 1000) ? found : undefined;
  });
  const longest = all.reduce((a, b) => (spanOf(b) > spanOf(a) ? b : a));
  const behind = new Set<string>();
  let peak = 0;
  for (const series of all) {
    const { samples, metric } = series;
    const name = `${metric.instance} partition ${metric.partition}`;
    const shown = samples.map((s) => s.value.toFixed(1)).join(', ');
    for (let i = 1; i < samples.length; i++) {
      assert.ok(samples[i]!.value >= samples[i - 1]!.value, `lag seconds never fall while ${what} (${name}): ${shown}`);
      const clock = (samples[i]!.at - samples[0]!.at) / 1000;
      assert.ok(samples[i]!.value - samples[0]!.value >= clock - readingAgeSeconds, `lag seconds grow with the clock while ${what} (${name}, ${clock.toFixed(1)} s): ${shown}`);
    }
    if ((samples.at(-1)?.value ?? 0) > 0) behind.add(metric.partition!);
    peak = Math.max(peak, ...samples.map((s) => s.value));
  }
  const partitions = new Set((await prometheus.query(`kitsune_consumer_lag_records{group="${group}"}`)).map((s) => s.metric.partition));
  assert.ok(partitions.size > 1, `lag records exported for each partition of ${group}`);
  assert.deepEqual([...behind].sort(), [...partitions].sort(), `every partition falls behind while ${what}`);
  return { from: longest.samples[0]!.at, to: longest.samples.at(-1)!.at, peak };
}

/** Records per second the API had acknowledged onto `topic` over [from, to], from its own counter. */
export async function publishedRate(prometheus: RunningPrometheus, topic: string, from: number, to: number): Promise<number> {
  const [series] = await prometheus.samples(`kitsune_publish_records_total{topic="${topic}",outcome="acknowledged"}`, from);
  const inside = (series?.samples ?? []).filter((s) => s.at <= to);
  if (inside.length < 2) return 0;
  return (inside.at(-1)!.value - inside[0]!.value) / ((inside.at(-1)!.at - inside[0]!.at) / 1000);
}

export interface CatchUp {
  /** From `from` to the scrape that first saw the DB worker's last outcome. */
  caughtUpSeconds: number;
  /** From that scrape to the first one after which every role shows lag seconds 0. */
  zeroSeconds: number;
  /** The highest lag seconds sampled since `from`. */
  peak: number;
}

/**
 * With the traffic paused at `from`: waits until every role shows the group at 0 (records and
 * seconds), then reads when the DB worker's outcome counter stopped moving (its last event
 * handled) and when each role's lag seconds last left 0, from the scrapes' times.
 */
export async function catchUp(prometheus: RunningPrometheus, group: string, from: number, what: string): Promise<CatchUp> {
  await until(`${what}: lag 0 in records and seconds`, 300_000, async () => {
    const rows = await prometheus.query(`max(kitsune_consumer_lag_records{group="${group}"}) + max(kitsune_consumer_lag_seconds{group="${group}"})`);
    return rows[0]?.value === 0 || undefined;
  });
  const outcomes = new Map<number, number>();
  for (const series of await prometheus.samples('kitsune_db_events_total', from)) {
    for (const s of series.samples) outcomes.set(s.at, (outcomes.get(s.at) ?? 0) + s.value);
  }
  const scrapes = [...outcomes].sort(([a], [b]) => a - b);
  const final = scrapes.at(-1)?.[1];
  const caughtAt = scrapes.find(([, total]) => total === final)?.[0] ?? from;
  // Each role's series turn 0 at the sample after their last non-zero one, and stay 0.
  let zeroAt = from;
  let peak = 0;
  for (const { samples } of await prometheus.samples(`kitsune_consumer_lag_seconds{group="${group}"}`, from)) {
    peak = Math.max(peak, ...samples.map((s) => s.value));
    const last = samples.findLastIndex((s) => s.value > 0);
    const zero = samples[last + 1];
    if (last >= 0 && zero) zeroAt = Math.max(zeroAt, zero.at);
  }
  return { caughtUpSeconds: (caughtAt - from) / 1000, zeroSeconds: Math.max(0, zeroAt - caughtAt) / 1000, peak };
}
