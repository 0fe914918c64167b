/**
 * Latency percentiles from every sample (no histogram buckets, no sampling), and the small
 * formatting helpers the table uses.
 */

export interface Latency {
  /** Samples the percentiles were computed from. */
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles in milliseconds; all zero for no samples. */
export function latencyOf(samples: ArrayLike<number>): Latency {
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: sorted[sorted.length - 1] ?? 0 };
}

export const median = (values: readonly number[]): number => latencyOf(values).p50;

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

export const fmtInt = (value: number): string => integer.format(value);

/** Milliseconds with precision that suits their size: 0.84, 12.3, 140. */
export function fmtMs(value: number): string {
  if (value >= 100) return integer.format(value);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export const fmtLatency = (l: Latency): string => `${fmtMs(l.p50)} / ${fmtMs(l.p95)} / ${fmtMs(l.p99)} ms`;

export const fmtRatio = (value: number): string => (Number.isFinite(value) ? `${value >= 10 ? value.toFixed(0) : value.toFixed(2)}×` : 'n/a');
