/** A small line of the last 15 minutes; the figures are in its label for screen readers. */
export function Sparkline({ points, label, unit }: { points: Array<[number, number]>; label: string; unit: string }) {
  const width = 160;
  const height = 36;
  if (points.length < 2) return <p class="muted small">collecting samples…</p>;
  const times = points.map(([t]) => t);
  const values = points.map(([, v]) => v);
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const max = Math.max(...values, 1e-9);
  const line = points
    .map(([t, v]) => `${(((t - t0) / Math.max(1, t1 - t0)) * width).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`)
    .join(' ');
  const minutes = Math.round((t1 - t0) / 60_000);
  return (
    <svg class="spark" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={`${label}, last ${minutes} min: from ${format(Math.min(...values))} to ${format(max)} ${unit}`}>
      <polyline points={line} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}

export const format = (value: number): string => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
