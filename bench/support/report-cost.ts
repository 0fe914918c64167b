/**
 * The cost rows: CPU time per event of Kitsune's processes beside the same figure for bare Fastify
 * and the Go reference (bench/peers/go) in the same run, read from the CPU windows the sections
 * opened (see support/cpu.ts). CPU per event is the figure a neighbour on the machine disturbs
 * least: wall-clock rates and latencies move with the load of others, CPU time per event mostly
 * does not (caches and frequency aside).
 */
import { cpuLabels, type Measurements } from '../sections/context.ts';
import { none, verdict, type Row } from './report.ts';
import { fmtInt, fmtRatio } from './stats.ts';

const us = (value: number): string => `${fmtInt(value)} µs`;

/** µs of CPU per event of the window's measured processes, and of PostgreSQL, when it had a rate. */
function perEvent(m: Measurements, label: string): { measured: number; postgres: number; idle: number } | undefined {
  const window = m.cpu[label];
  if (window?.usPerEvent === undefined || !window.eventsPerSecond) return undefined;
  return { measured: window.usPerEvent, postgres: Math.round(((window.cores.postgres ?? 0) * 1e6) / window.eventsPerSecond), idle: window.cores.idle };
}

function apiRows(m: Measurements): Row[] {
  const rows: Row[] = [];
  for (const rate of [undefined, 1_000]) {
    const kitsune = perEvent(m, cpuLabels.ingest('kitsune api', 'execute', rate));
    if (!kitsune) continue;
    const bare = perEvent(m, cpuLabels.ingest('bare Fastify', 'execute', rate));
    const go = perEvent(m, cpuLabels.ingest('Go reference API', 'execute', rate));
    const bareRatio = bare ? kitsune.measured / bare.measured : undefined;
    rows.push({
      section: 'cost',
      measurement: `API CPU per POST /execute, ${rate === undefined ? 'at saturation' : `at ${fmtInt(rate)}/s`}`,
      figure: us(kitsune.measured),
      baseline: [bare && `bare Fastify ${us(bare.measured)}`, go && `Go ${us(go.measured)}`].filter(Boolean).join(' · ') || 'not run',
      ratio: [bare && fmtRatio(kitsune.measured / bare.measured), go && fmtRatio(kitsune.measured / go.measured)].filter(Boolean).join(' · ') || 'n/a',
      goal: rate === 1_000 ? `≤ 1.5× bare: ${bareRatio === undefined ? 'n/a' : verdict(bareRatio <= 1.5)}` : none,
    });
  }
  return rows;
}

function dbWorkerRow(m: Measurements): Row[] {
  const events = m.dbWorker?.events;
  if (events === undefined) return [];
  const kitsune = perEvent(m, cpuLabels.dbWorker(events));
  if (!kitsune) return [];
  const go = perEvent(m, cpuLabels.goDbWorker(events));
  return [
    {
      section: 'cost',
      measurement: `DB worker CPU per create_user drained (+ PostgreSQL's)`,
      figure: `${us(kitsune.measured)} (+ ${us(kitsune.postgres)})`,
      baseline: go ? `Go ${us(go.measured)} (+ ${us(go.postgres)})` : 'Go not run',
      ratio: go ? `${fmtRatio(kitsune.measured / go.measured)} (${fmtRatio((kitsune.measured + kitsune.postgres) / (go.measured + go.postgres))} with PostgreSQL)` : 'n/a',
      goal: none,
    },
  ];
}

function e2eRows(m: Measurements): Row[] {
  const rows: Row[] = [];
  for (const run of m.e2e?.runs ?? []) {
    const cost = perEvent(m, cpuLabels.e2e(run.target));
    if (!cost) continue;
    const goApi = perEvent(m, cpuLabels.ingest('Go reference API', 'execute', run.target));
    const goDb = m.dbWorker ? perEvent(m, cpuLabels.goDbWorker(m.dbWorker.events)) : undefined;
    const go = goApi && goDb ? goApi.measured + goDb.measured : undefined;
    rows.push({
      section: 'cost',
      measurement: `Kitsune's processes, CPU per event end to end at ${fmtInt(run.target)}/s (machine idle, cores)`,
      figure: `${us(cost.measured)} (idle ${cost.idle.toFixed(2)})`,
      baseline: go === undefined ? 'Go not run' : `Go API at that rate + Go DB worker draining ${us(go)} (no log worker)`,
      ratio: go === undefined ? 'n/a' : fmtRatio(cost.measured / go),
      goal: run.target === 1_000 ? `≤ 300 µs, idle ≥ 1 core: ${verdict(cost.measured <= 300 && cost.idle >= 1)}` : none,
    });
  }
  return rows;
}

export function costRows(m: Measurements): Row[] {
  return [...apiRows(m), ...dbWorkerRow(m), ...e2eRows(m)];
}
