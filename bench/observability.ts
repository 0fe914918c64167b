/**
 * `npm run bench:observability [-- --rounds 5] [-- --seconds 8]`
 *
 * What metrics and tracing cost on ingest: `kitsune api` on the real broker, POST /execute at
 * saturation (autocannon, 100 connections, as `npm run bench`), in three configurations:
 * - off:     KITSUNE_API_METRICS=false, no OTLP endpoint;
 * - metrics: the default (HTTP, publish and lag metrics), no OTLP endpoint;
 * - traces:  metrics, and tracing on with 10% of new traces sampled
 *            (OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1), exported
 *            to an OTLP receiver in this process (the test collector where built, else the
 *            receiver in test/support/otlp).
 * The three run interleaved, in a rotating order, round after round, so the machine's drift falls
 * on all of them; every round's figures and the medians are printed, with the spread. Never a
 * CI gate.
 *
 * `--instructions` counts instead the instructions the API executes per event under Valgrind's
 * callgrind (bench/support/callgrind.ts), the three configurations in the same rotation: a
 * figure the machine's neighbours hardly move.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { down, up } from '../scripts/services/harness.ts';
import { repoRoot } from '../scripts/services/state.ts';
import { freePort } from '../src/cli/ports.ts';
import { startCollectorReceiver } from '../test/support/otlp/otel-collector.ts';
import { startTraceReceiver } from '../test/support/otlp/receiver.ts';
import { apiInstructionsPerEvent } from './support/callgrind.ts';
import { benchTopics, deleteTopics } from './support/infra.ts';
import type { LoadChild } from './support/load-child.ts';
import { spawnRole } from './support/processes.ts';
import { forkChild } from './support/rpc.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, seconds: { type: 'string', default: '8' }, instructions: { type: 'boolean', default: false } },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const modes = ['off', 'metrics', 'traces'] as const;
type Mode = (typeof modes)[number];
const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);
const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** CPU seconds (user + system) the process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const pct = (x: number): string => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;

function instructionsTable(perEvent: Record<Mode, number[]>, spans: number): string {
  return [
    `POST /execute under callgrind, 4 connections, ${seconds} s counted after 20 s of warm-up, ${rounds} rounds: instructions per event`,
    '',
    '| round | off | metrics | traces 10% |',
    '|---|---|---|---|',
    ...perEvent.off.map((_, i) => `| ${i + 1} | ${modes.map((m) => Math.round(perEvent[m][i]!)).join(' | ')} |`),
    `| median | ${modes.map((m) => Math.round(median(perEvent[m]))).join(' | ')} |`,
    '',
    ...(['metrics', 'traces'] as const).map((mode) => {
      const r = perEvent[mode].map((v, i) => v / perEvent.off[i]!);
      return `${mode} vs off, per round: median ${pct(median(r))} (spread ${pct(Math.min(...r))} to ${pct(Math.max(...r))})`;
    }),
    `spans received with 10% sampling: ${spans}`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  const services = await up({ requireKafka: true });
  const brokers = services.kafkaBrokers!;
  const cleanups: Array<() => unknown> = [];
  const receiver = (await startCollectorReceiver({ after: (fn) => void cleanups.push(fn) })) ?? (await startTraceReceiver());
  cleanups.push(() => receiver.close());
  const runId = Date.now().toString(36);
  const topics = Object.fromEntries(modes.map((mode) => [mode, benchTopics(`bench-${runId}-obs-${mode}`)])) as Record<Mode, ReturnType<typeof benchTopics>>;
  const load = await forkChild<LoadChild>('bench/support/load-child.ts');
  await load.call('init', { scope: runId });
  const rate: Record<Mode, number[]> = { off: [], metrics: [], traces: [] };
  const cpu: Record<Mode, number[]> = { off: [], metrics: [], traces: [] };
  const p99: Record<Mode, number[]> = { off: [], metrics: [], traces: [] };
  const instructions: Record<Mode, number[]> = { off: [], metrics: [], traces: [] };
  try {
    for (let round = 0; round < rounds; round += 1) {
      const order = modes.map((_, i) => modes[(i + round) % modes.length]!);
      for (const mode of order) {
        const port = await freePort();
        const env: Record<string, string> = { HTTP_PORT: String(port), KAFKA_BROKERS: brokers, ...topics[mode].env };
        if (mode === 'off') env.KITSUNE_API_METRICS = 'false';
        if (mode === 'traces') {
          Object.assign(env, {
            OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL: receiver.protocol,
            OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
            OTEL_TRACES_SAMPLER_ARG: '0.1',
          });
        }
        if (values.instructions) {
          instructions[mode].push(await apiInstructionsPerEvent(env, `http://127.0.0.1:${port}`, load, { kind: 'execute', seconds }));
          log(`round ${round + 1}/${rounds}, ${mode}: ${Math.round(instructions[mode].at(-1)!)} instructions per event`);
          continue;
        }
        const api = await spawnRole('api', env);
        try {
          const url = `http://127.0.0.1:${port}`;
          await load.call('saturate', { url, kind: 'execute', batchSize: 50, seconds: 3, connections: 100 });
          const before = cpuSeconds(api.pid);
          const run = await load.call('saturate', { url, kind: 'execute', batchSize: 50, seconds, connections: 100 });
          const used = cpuSeconds(api.pid) - before;
          const failed = Object.entries(run.statuses).reduce((sum, [status, n]) => (status.startsWith('2') ? sum : sum + n), run.errors);
          if (failed > 0) throw new Error(`${failed} requests failed (${mode})`);
          rate[mode].push(run.eventsPerSecond);
          cpu[mode].push((used * 1e6) / (run.eventsPerSecond * seconds));
          p99[mode].push(run.latency.p99);
          log(`round ${round + 1}/${rounds}, ${mode}: ${Math.round(run.eventsPerSecond)} events/s, ${cpu[mode].at(-1)!.toFixed(1)} µs CPU per event, p99 ${run.latency.p99.toFixed(1)} ms`);
        } finally {
          await api.stop();
        }
      }
    }
  } finally {
    await load.stop();
    await deleteTopics(brokers.split(','), modes.flatMap((mode) => topics[mode].all));
    for (const cleanup of cleanups.reverse()) await cleanup();
    await down(services.started);
  }
  const spans = (await receiver.spans().catch(() => [])).length;
  if (values.instructions) {
    process.stdout.write(instructionsTable(instructions, spans));
    return;
  }
  const ratios = (mode: Mode, of: Record<Mode, number[]>): number[] => of[mode].map((v, i) => v / of.off[i]!);
  const lines = [
    `POST /execute at saturation, 100 connections, ${seconds} s per run, ${rounds} rounds, the three configurations interleaved`,
    '',
    '| round | events/s off | metrics | traces 10% | API µs CPU/event off | metrics | traces 10% | p99 ms off | metrics | traces 10% |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rate.off.map(
      (_, i) =>
        `| ${i + 1} | ${modes.map((m) => Math.round(rate[m][i]!)).join(' | ')} | ${modes.map((m) => cpu[m][i]!.toFixed(1)).join(' | ')} | ${modes.map((m) => p99[m][i]!.toFixed(1)).join(' | ')} |`,
    ),
    `| median | ${modes.map((m) => Math.round(median(rate[m]))).join(' | ')} | ${modes.map((m) => median(cpu[m]).toFixed(1)).join(' | ')} | ${modes.map((m) => median(p99[m]).toFixed(1)).join(' | ')} |`,
    '',
    ...(['metrics', 'traces'] as const).map((mode) => {
      const r = ratios(mode, rate);
      const c = ratios(mode, cpu);
      return `${mode} vs off, per round: events/s median ${pct(median(r))} (spread ${pct(Math.min(...r))} to ${pct(Math.max(...r))}); CPU per event median ${pct(median(c))} (spread ${pct(Math.min(...c))} to ${pct(Math.max(...c))})`;
    }),
    `run-to-run spread with everything off: ${Math.round(Math.min(...rate.off))} to ${Math.round(Math.max(...rate.off))} events/s`,
    `spans received with 10% sampling: ${spans} (receiver: ${receiver.protocol})`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
