/**
 * From measurements to the one table `npm run bench` prints: every row a Kitsune figure, the
 * baseline measured in the same run, their ratio, and the goal it is reported against (goals are
 * never gates). Ratios are figure ÷ baseline: above 1 is better for rates, worse for latency and
 * memory. Latency rows compare p99.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import type { EndToEnd, IngestRuns, Measurements, MemoryFigure, Settings } from '../sections/context.ts';
import { costRows } from './report-cost.ts';
import { fmtInt, fmtLatency, fmtRatio, median, type Latency } from './stats.ts';

export interface Row {
  section: string;
  measurement: string;
  figure: string;
  baseline: string;
  ratio: string;
  goal: string;
}

export const none = 'none (tracked)';
export const rate = (value: number): string => `${fmtInt(value)}/s`;
const mb = (value: number): string => `${fmtInt(value)} MB`;
export const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');
const latencyRatio = (a: Latency, b: Latency): string => fmtRatio(a.p99 / b.p99);

/** A latency figure, with what went wrong in the run appended. */
function latencyFigure(latency: Latency, run?: { failed: number; achieved?: number; target?: number; timeouts?: number }): string {
  const notes: string[] = [];
  if (run?.failed) notes.push(`${fmtInt(run.failed)} failed`);
  if (run?.timeouts) notes.push(`${fmtInt(run.timeouts)} timed out`);
  if (run?.achieved !== undefined && run.target !== undefined && run.achieved < run.target * 0.95) notes.push(`only ${rate(run.achieved)}`);
  return notes.length > 0 ? `${fmtLatency(latency)} (${notes.join(', ')})` : fmtLatency(latency);
}

/**
 * A fixed-rate end-to-end step kept up when every request got its 202 on schedule (at least 95 %
 * of the rate answered, none failed) and results did not fall behind (every sampled result
 * there, p99 within a second). The embedded steps and the 5,000/s goal use the same rule.
 */
export const keptUpLimitMs = 1_000;

export function keptUp(run: EndToEnd): { kept: boolean; why: string } {
  if (run.failed > 0) return { kept: false, why: `${run.failed} requests failed` };
  if (run.achieved < run.target * 0.95) return { kept: false, why: `answered ${run.achieved}/s of ${run.target}/s` };
  if (run.timeouts > 0) return { kept: false, why: `${run.timeouts} sampled results not there within the wait` };
  if (run.e2e.p99 > keptUpLimitMs) return { kept: false, why: `end-to-end p99 ${Math.round(run.e2e.p99)} ms > ${keptUpLimitMs} ms` };
  return { kept: true, why: `end-to-end p99 ${Math.round(run.e2e.p99)} ms` };
}

/** A baseline's cell: its figure, or "failed" when it was attempted and threw (see the FAILED lines), else "n/a". */
const baselineCell = <T>(value: T | undefined, show: (value: T) => string, failed: boolean): string => (value === undefined ? (failed ? 'FAILED' : 'n/a') : show(value));

function ingestRows(m: NonNullable<Measurements['ingest']>, s: Settings, errors: Measurements['errors']): Row[] {
  const rows: Row[] = [];
  const failedAny = (prefix: string): boolean => Object.keys(errors).some((name) => name.startsWith(prefix));
  for (const kind of ['execute', 'batch'] as const) {
    const k: IngestRuns = m.kitsune[kind];
    const b: IngestRuns | undefined = m.bare?.[kind];
    const c: IngestRuns | undefined = m.kafka[kind];
    const bareFailed = failedAny('ingest: bare Fastify');
    const kafkaFailed = failedAny('ingest: bare Kafka client');
    const name = kind === 'execute' ? 'POST /execute' : `POST /execute/batch ×${s.batchSize}`;
    const conns = kind === 'execute' ? s.connections : Math.max(4, s.connections / 10);
    const bareRatio = b ? k.saturation.eventsPerSecond / b.saturation.eventsPerSecond : undefined;
    // The Go reference serves /execute only; its ratio is the goal's second half.
    const go = kind === 'execute' ? m.go?.execute : undefined;
    const goRatio = go ? k.saturation.eventsPerSecond / go.saturation.eventsPerSecond : undefined;
    const sat = (runs: IngestRuns): string => rate(runs.saturation.eventsPerSecond);
    const satRatio = (runs: IngestRuns): string => fmtRatio(k.saturation.eventsPerSecond / runs.saturation.eventsPerSecond);
    rows.push({
      section: 'ingest',
      measurement: `${name}, saturation (${conns} connections), events/s`,
      figure: rate(k.saturation.eventsPerSecond) + (k.saturation.failed ? ` (${fmtInt(k.saturation.failed)} failed)` : ''),
      baseline: `bare ${baselineCell(b, sat, bareFailed)} · Kafka client ${baselineCell(c, sat, kafkaFailed)}` + (go ? ` · Go ${sat(go)}` : ''),
      ratio: `${baselineCell(b, satRatio, bareFailed)} · ${baselineCell(c, satRatio, kafkaFailed)}` + (goRatio !== undefined ? ` · ${fmtRatio(goRatio)}` : ''),
      goal:
        kind === 'execute'
          ? bareRatio === undefined
            ? 'n/a (bare Fastify failed)'
            : `≥ 0.6× bare${go ? ' and ≥ 0.8× Go' : ''}: ${verdict(bareRatio >= 0.6 && (goRatio === undefined || goRatio >= 0.8))}`
          : none,
    });
    rows.push({
      section: 'ingest',
      measurement: `${name}, saturation, p50/p95/p99`,
      figure: fmtLatency(k.saturation.latency),
      baseline: `bare ${baselineCell(b, (r) => fmtLatency(r.saturation.latency), bareFailed)} · Kafka send ${baselineCell(c, (r) => fmtLatency(r.saturation.latency), kafkaFailed)}`,
      ratio: `${baselineCell(b, (r) => latencyRatio(k.saturation.latency, r.saturation.latency), bareFailed)} · ${baselineCell(c, (r) => latencyRatio(k.saturation.latency, r.saturation.latency), kafkaFailed)}`,
      goal: none,
    });
    for (const kitsune of k.rates) {
      const bare = b?.rates.find((r) => r.target === kitsune.target);
      const kafka = c?.rates.find((r) => r.target === kitsune.target);
      const goRun = go?.rates.find((r) => r.target === kitsune.target);
      rows.push({
        section: 'ingest',
        measurement: `${name} at ${fmtInt(kitsune.target)} events/s, p50/p95/p99`,
        figure: latencyFigure(kitsune.latency, kitsune),
        baseline:
          `bare ${baselineCell(bare, (r) => latencyFigure(r.latency, r), bareFailed)} · Kafka ${baselineCell(kafka, (r) => latencyFigure(r.latency, r), kafkaFailed)}` +
          (goRun ? ` · Go ${latencyFigure(goRun.latency, goRun)}` : ''),
        ratio:
          `${baselineCell(bare, (r) => latencyRatio(kitsune.latency, r.latency), bareFailed)} · ${baselineCell(kafka, (r) => latencyRatio(kitsune.latency, r.latency), kafkaFailed)}` +
          (goRun ? ` · ${latencyRatio(kitsune.latency, goRun.latency)}` : ''),
        goal: none,
      });
    }
  }
  return rows;
}

function memoryRow(role: string, figure: MemoryFigure | undefined, baseline: { label: string; mb: number } | undefined, goal: string): Row {
  return {
    section: 'memory',
    measurement: `peak RSS, ${role}${figure ? `, under ${figure.under}` : ''}`,
    figure: figure ? mb(figure.peakMb) : 'not run',
    baseline: baseline ? `${baseline.label} ${mb(baseline.mb)}` : 'not run',
    ratio: figure && baseline ? fmtRatio(figure.peakMb / baseline.mb) : 'n/a',
    goal,
  };
}

const e2eAt = (runs: readonly EndToEnd[] | undefined, target: number): EndToEnd | undefined => runs?.find((r) => r.target === target);

export function buildRows(m: Measurements, s: Settings): Row[] {
  const rows: Row[] = [];
  const missing = (section: string, measurement: string, goal = none): Row => ({
    section,
    measurement,
    figure: m.errors[section] ? 'FAILED (see above)' : 'not run',
    baseline: '',
    ratio: '',
    goal,
  });

  rows.push(...(m.ingest ? ingestRows(m.ingest, s, m.errors) : [missing('ingest', 'POST /execute and /execute/batch', '≥ 0.6× bare and ≥ 0.8× Go')]));

  const d = m.dbWorker;
  if (d) {
    const baselineFailed = m.errors['db-worker: SQL baselines'] !== undefined;
    const perSecond = (value: number | undefined): string => baselineCell(value, rate, baselineFailed);
    const ratioTo = (value: number | undefined): string => baselineCell(value, (v) => fmtRatio(d.commandsPerSecond / v), baselineFailed);
    const multiRatio = d.multiRowPerSecond === undefined ? undefined : d.commandsPerSecond / d.multiRowPerSecond;
    const goRatio = d.go ? d.commandsPerSecond / d.go.commandsPerSecond : undefined;
    const problems = d.notSucceeded > 0 || d.usersRows !== d.events ? ` (${fmtInt(d.usersRows)} rows, ${fmtInt(d.notSucceeded)} not succeeded)` : '';
    rows.push({
      section: 'db-worker',
      measurement: `create_user commands/s, ${fmtInt(d.events)} events already on the topic`,
      figure: rate(d.commandsPerSecond) + problems,
      baseline: `1-row INSERT tx loop ${perSecond(d.singleRowPerSecond)} · multi-row INSERT ${perSecond(d.multiRowPerSecond)}` + (d.go ? ` · Go ${rate(d.go.commandsPerSecond)}` : ''),
      ratio: `${ratioTo(d.singleRowPerSecond)} · ${ratioTo(d.multiRowPerSecond)}` + (goRatio !== undefined ? ` · ${fmtRatio(goRatio)}` : ''),
      goal:
        multiRatio === undefined
          ? 'n/a (baseline failed)'
          : `≥ 20,000/s, ≥ 0.4× multi-row${d.go ? ', ≥ 1.0× Go' : ''}: ${verdict(d.commandsPerSecond >= 20_000 && multiRatio >= 0.4 && (goRatio === undefined || goRatio >= 1))}`,
    });
  } else rows.push(missing('db-worker', 'create_user commands/s', '≥ 20,000/s, ≥ 0.4× multi-row, ≥ 1.0× Go'));

  for (const target of s.fixedRates) {
    const run = e2eAt(m.e2e?.runs, target);
    const floor = m.e2e?.floor.find((f) => f.target === target);
    const goal = target === 1_000 ? `p99 ≤ 100 ms` : target === 5_000 ? 'all answered, p99 ≤ 1 s' : none;
    if (!run) {
      rows.push(missing('e2e', `202 → result readable at ${fmtInt(target)} events/s`, goal));
      continue;
    }
    const floorFailed = m.errors[`e2e: transport floor at ${target}/s`] !== undefined;
    rows.push({
      section: 'e2e',
      measurement: `202 → result readable (GET /events/:id) at ${fmtInt(target)} events/s, p50/p95/p99`,
      figure: latencyFigure(run.e2e, run),
      baseline: `Kafka produce → consume ${baselineCell(floor, (f) => fmtLatency(f.latency), floorFailed)}`,
      ratio: baselineCell(floor, (f) => latencyRatio(run.e2e, f.latency), floorFailed),
      goal:
        target === 1_000
          ? `${goal}: ${verdict(run.e2e.p99 <= 100 && run.timeouts === 0)}`
          : target === 5_000
            ? `${goal}: ${verdict(keptUp(run).kept)}`
            : goal,
    });
  }

  const l = m.logWorker;
  rows.push(
    l
      ? {
          section: 'log-worker',
          measurement: `lines/s into the Loki test server, ${fmtInt(l.lines)} lines on app-logs`,
          figure: rate(l.linesPerSecond),
          baseline: `server raw accept rate ${baselineCell(l.acceptRate, rate, m.errors['log-worker: Loki test server accept rate'] !== undefined)}`,
          ratio: baselineCell(l.acceptRate, (accept) => fmtRatio(l.linesPerSecond / accept), m.errors['log-worker: Loki test server accept rate'] !== undefined),
          goal: `≥ 50,000/s: ${verdict(l.linesPerSecond >= 50_000)}`,
        }
      : missing('log-worker', 'lines/s into the Loki test server', '≥ 50,000/s'),
  );

  const memory = m.memory;
  const rssGoal = (figure: MemoryFigure | undefined): string => (figure ? `≤ 150 MB: ${verdict(figure.peakMb <= 150)}` : '≤ 150 MB');
  const goAt = (figure: MemoryFigure | undefined, label: string): { label: string; mb: number } | undefined => figure && { label, mb: figure.peakMb };
  rows.push(memoryRow('kitsune api', memory.api, memory.bare && { label: 'bare Fastify, same load,', mb: memory.bare.peakMb }, rssGoal(memory.api)));
  if (memory.goApi) rows.push(memoryRow('kitsune api', memory.api, goAt(memory.goApi, 'Go API, same load,'), none));
  rows.push(memoryRow('kitsune db-worker', memory.dbWorker, memory.dbWorker && { label: 'itself at ready', mb: memory.dbWorker.readyMb }, rssGoal(memory.dbWorker)));
  if (memory.goDbWorker) rows.push(memoryRow('kitsune db-worker', memory.dbWorker, goAt(memory.goDbWorker, 'Go DB worker, same backlog,'), none));
  rows.push(memoryRow('kitsune log-worker', memory.logWorker, memory.logWorker && { label: 'itself at ready', mb: memory.logWorker.readyMb }, rssGoal(memory.logWorker)));
  rows.push(memoryRow('kitsune start (embedded)', memory.start, memory.start && { label: 'itself at ready', mb: memory.start.readyMb }, rssGoal(memory.start)));
  rows.push(...costRows(m));

  const c = m.coldStart;
  if (c) {
    const kitsune = median(c.kitsuneMs);
    const bare = median(c.bareMs);
    rows.push({
      section: 'cold-start',
      measurement: `kitsune start → ready, warm embedded data dir (median of ${c.kitsuneMs.length})`,
      figure: `${(kitsune / 1000).toFixed(2)} s` + (c.embeddedPostgresMs.length > 0 ? ` (PostgreSQL ${(median(c.embeddedPostgresMs) / 1000).toFixed(2)} s)` : ''),
      baseline: `bare Fastify ${(bare / 1000).toFixed(2)} s`,
      ratio: fmtRatio(kitsune / bare),
      goal: `≤ 3 s: ${verdict(kitsune <= 3_000)}`,
    });
  } else rows.push(missing('cold-start', 'kitsune start → ready (warm)', '≤ 3 s'));

  const e = m.embedded;
  if (e) {
    const kafkaSat = m.ingest?.kitsune.execute.saturation.eventsPerSecond;
    rows.push({
      section: 'embedded',
      measurement: `POST /execute, saturation (${s.connections} connections), events/s`,
      figure: rate(e.saturation.eventsPerSecond) + (e.saturation.failed ? ` (${fmtInt(e.saturation.failed)} failed)` : ''),
      baseline: kafkaSat ? `Kafka mode ${rate(kafkaSat)}` : 'Kafka mode not run',
      ratio: kafkaSat ? fmtRatio(e.saturation.eventsPerSecond / kafkaSat) : 'n/a',
      goal: none,
    });
    for (const target of s.fixedRates) {
      const run = e2eAt(e.runs, target);
      const kafka = e2eAt(m.e2e?.runs, target);
      rows.push({
        section: 'embedded',
        measurement: `202 → result readable at ${fmtInt(target)} events/s, p50/p95/p99`,
        figure: run ? latencyFigure(run.e2e, run) : (e.steps.find((step) => step.target === target)?.why ?? 'not run'),
        baseline: kafka ? `Kafka mode ${fmtLatency(kafka.e2e)}` : 'Kafka mode not run',
        ratio: run && kafka ? latencyRatio(run.e2e, kafka.e2e) : 'n/a',
        goal: none,
      });
    }
    const steps = e.steps.map((step) => step.target);
    rows.push({
      section: 'embedded',
      measurement: `highest rate it keeps up with (all 202 on time, e2e p99 ≤ 1 s; tried ${steps.map(fmtInt).join(', ')})`,
      figure: e.sustained > 0 ? rate(e.sustained) : `< ${rate(Math.min(...steps))}`,
      baseline: `its own ingest saturation ${rate(e.saturation.eventsPerSecond)}`,
      ratio: fmtRatio(e.sustained / e.saturation.eventsPerSecond),
      goal: none,
    });
  } else rows.push(missing('embedded', 'the pipeline with the Postgres log'));
  return rows;
}

/** The table as plain text, columns padded to their widest cell. */
export function renderTable(rows: readonly Row[]): string {
  const header: Row = { section: 'section', measurement: 'measurement', figure: 'figure', baseline: 'baseline (same run)', ratio: 'ratio', goal: 'goal' };
  const columns = ['section', 'measurement', 'figure', 'baseline', 'ratio', 'goal'] as const;
  const widths = columns.map((column) => Math.max(...[header, ...rows].map((row) => row[column].length)));
  const line = (row: Row): string => columns.map((column, i) => row[column].padEnd(widths[i]!)).join('  ').trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  const out = [line(header), rule];
  let section = '';
  for (const row of rows) {
    if (row.section !== section && section !== '') out.push('');
    section = row.section;
    out.push(line(row));
  }
  return out.join('\n');
}

/** The table as Markdown, for docs/performance.md. */
export function renderMarkdown(rows: readonly Row[]): string {
  const escape = (cell: string): string => cell.replaceAll('|', '\\|');
  return [
    '| section | measurement | figure | baseline (same run) | ratio | goal |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${[r.section, r.measurement, r.figure, r.baseline, r.ratio, r.goal].map(escape).join(' | ')} |`),
  ].join('\n');
}

export function machine(): Record<string, unknown> {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model,
    memoryMb: Math.round(totalmem() / 1_048_576),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverageAtEnd: loadavg().map((v) => Number(v.toFixed(2))),
  };
}

/**
 * The CPU windows as a table, in cores: the measured processes by name, PostgreSQL, the broker,
 * the load generator, helpers (the Loki test server, this orchestrator) when they used any,
 * everything else on the machine, idle; then the measured processes' CPU per event.
 */
export function renderCpu(cpu: Measurements['cpu']): string {
  const fixed = ['postgres', 'kafka', 'load generator', 'other', 'idle'];
  const cores = (value: number | undefined): string => (value === undefined ? '' : value.toFixed(2));
  const cells = Object.entries(cpu).map(([label, { cores: shares, measured, usPerEvent }]) => {
    const helpers = Object.entries(shares)
      .filter(([name, value]) => !fixed.includes(name) && !measured.includes(name) && value >= 0.005)
      .map(([name, value]) => `${name} ${value.toFixed(2)}`);
    return [
      label,
      measured.map((name) => `${name} ${cores(shares[name])}`).join(', '),
      cores(shares.postgres),
      cores(shares.kafka),
      cores(shares['load generator']),
      helpers.join(', '),
      cores(shares.other),
      cores(shares.idle),
      usPerEvent === undefined ? '' : fmtInt(usPerEvent),
    ];
  });
  const header = ['window', 'measured processes', 'postgres', 'kafka', 'load gen', 'helpers', 'other', 'idle', 'µs CPU/event'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const left = new Set([0, 1, 5]);
  const line = (row: string[]): string => row.map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
