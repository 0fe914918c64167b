/**
 * `npm run bench:schema-registry [-- --rounds 6] [-- --seconds 8] [-- --kind execute|batch]`
 *
 * The ingest figure with a schema registry against the same without one: `kitsune api` on the
 * real broker, POST /execute at saturation (autocannon, 100 connections, as `npm run bench`),
 * with KITSUNE_SCHEMA_REGISTRY_URL set and unset. The runs are interleaved (on, off, off, on, ...)
 * so that the machine's drift falls on both sides, and each round's ratio is printed with the
 * median and the spread: on a shared machine one pair of runs proves nothing. The registry is
 * only asked at boot; stamping a record is a map lookup and a copy of its headers
 * (src/schema-registry/stamp.ts), whose cost is also measured in-process beside the cost of
 * encoding the event, which every request pays anyway. Never a CI gate.
 *
 * `--instructions` counts instead the instructions the API executes per event under Valgrind's
 * callgrind (bench/support/callgrind.ts), on and off in alternation: a figure the machine's
 * neighbours hardly move, where the events/s above move by ±20 % between two identical runs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { down, up } from '../scripts/services/harness.ts';
import { repoRoot } from '../scripts/services/state.ts';
import { freePort } from '../src/cli/ports.ts';
import { createDbRecordStamp } from '../src/schema-registry/stamp.ts';
import { apiInstructionsPerEvent } from './support/callgrind.ts';
import { benchTopics, deleteTopics } from './support/infra.ts';
import type { LoadChild } from './support/load-child.ts';
import { spawnRole } from './support/processes.ts';
import { forkChild } from './support/rpc.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '8' },
    kind: { type: 'string', default: 'execute' },
    instructions: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const kind = values.kind === 'batch' ? 'batch' : 'execute';
const connections = kind === 'execute' ? 100 : 10;
const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);
const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** CPU seconds (user + system) the process has used, from /proc; contention slows a run but hardly changes this per event. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** ns per call of `f`, the median of 7 runs of 200,000 calls after 2 warm-up runs. */
function nsPerCall(f: () => unknown): number {
  const runs: number[] = [];
  let sink = 0;
  for (let run = 0; run < 9; run += 1) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 200_000; i += 1) sink += f() === undefined ? 0 : 1;
    if (run >= 2) runs.push(Number(process.hrtime.bigint() - started) / 200_000);
  }
  return sink > 0 ? median(runs) : Number.NaN;
}

/** The API's added work per record: stamping, beside encoding the event (which it does anyway). */
function stampCost(): string {
  const registration = { added: 0, existing: 1, schemas: new Map([['create_user\u00001', { command: 'create_user', version: '1', subject: 'db-events-create_user', id: 7, text: '{}' }]]) };
  const event = {
    id: '0192c4d0-0000-7000-8000-000000000001',
    command: 'create_user',
    version: '1',
    payload: { name: 'Ada', email: 'ada@example.com' },
    log: { level: 'INFO', message: 'create_user accepted' },
    metadata: { idempotency_key: '0192c4d0-0000-7000-8000-000000000001', timestamp: new Date().toISOString(), source: 'anonymous' },
  };
  const record = { id: event.id, key: 'ada@example.com', value: Buffer.from(JSON.stringify(event)), headers: { 'kitsune-command': 'create_user', 'kitsune-version': '1', traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` } };
  const header = createDbRecordStamp(registration, 'header');
  const confluent = createDbRecordStamp(registration, 'confluent');
  const encode = nsPerCall(() => Buffer.from(JSON.stringify(event), 'utf8'));
  const stampHeader = nsPerCall(() => header(record, 'create_user', '1'));
  const stampConfluent = nsPerCall(() => confluent(record, 'create_user', '1'));
  return `per record: stamp (header) ${stampHeader.toFixed(0)} ns, stamp (confluent) ${stampConfluent.toFixed(0)} ns, encoding the event ${encode.toFixed(0)} ns\n`;
}

function instructionsTable(perEvent: Record<'on' | 'off', number[]>): string {
  const ratios = perEvent.on.map((on, i) => on / perEvent.off[i]!);
  const rows = ratios.map((ratio, i) => `| ${i + 1} | ${Math.round(perEvent.off[i]!)} | ${Math.round(perEvent.on[i]!)} | ${ratio.toFixed(4)} |`);
  return [
    `POST /${kind === 'execute' ? 'execute' : 'execute/batch'} under callgrind, 4 connections, ${seconds} s counted after 20 s of warm-up: instructions per event`,
    '',
    '| round | registry off | registry on | on / off |',
    '|---|---|---|---|',
    ...rows,
    `| median | ${Math.round(median(perEvent.off))} | ${Math.round(median(perEvent.on))} | ${median(ratios).toFixed(4)} |`,
    '',
    `per-round on/off spread: ${Math.min(...ratios).toFixed(4)} to ${Math.max(...ratios).toFixed(4)}; off runs ${Math.round(Math.min(...perEvent.off))} to ${Math.round(Math.max(...perEvent.off))}`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const micro = stampCost();
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  const services = await up({ requireKafka: true, schemaRegistry: 'required' });
  const brokers = services.kafkaBrokers!;
  const runId = Date.now().toString(36);
  const topics = { on: benchTopics(`bench-${runId}-sr-on`), off: benchTopics(`bench-${runId}-sr-off`) };
  const load = await forkChild<LoadChild>('bench/support/load-child.ts');
  await load.call('init', { scope: runId });
  const figures: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const cpuPerEvent: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const instructionsPerEvent: Record<'on' | 'off', number[]> = { on: [], off: [] };
  try {
    for (let round = 0; round < rounds; round += 1) {
      const order: Array<'on' | 'off'> = round % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      for (const mode of order) {
        const port = await freePort();
        const env: Record<string, string> = { HTTP_PORT: String(port), KAFKA_BROKERS: brokers, ...topics[mode].env };
        if (mode === 'on') env.KITSUNE_SCHEMA_REGISTRY_URL = services.schemaRegistryUrl!;
        if (values.instructions) {
          instructionsPerEvent[mode].push(await apiInstructionsPerEvent(env, `http://127.0.0.1:${port}`, load, { kind, seconds }));
          log(`round ${round + 1}/${rounds}, registry ${mode}: ${Math.round(instructionsPerEvent[mode].at(-1)!)} instructions per event`);
          continue;
        }
        const api = await spawnRole('api', env);
        try {
          const url = `http://127.0.0.1:${port}`;
          await load.call('saturate', { url, kind, batchSize: 50, seconds: 3, connections });
          const cpuBefore = cpuSeconds(api.pid);
          const run = await load.call('saturate', { url, kind, batchSize: 50, seconds, connections });
          const cpu = cpuSeconds(api.pid) - cpuBefore;
          const failed = Object.entries(run.statuses).reduce((sum, [status, n]) => (status.startsWith('2') ? sum : sum + n), run.errors);
          if (failed > 0) throw new Error(`${failed} requests failed with the registry ${mode}`);
          figures[mode].push(run.eventsPerSecond);
          cpuPerEvent[mode].push((cpu * 1e6) / (run.eventsPerSecond * seconds));
          log(`round ${round + 1}/${rounds}, registry ${mode}: ${Math.round(run.eventsPerSecond)} events/s, ${cpuPerEvent[mode].at(-1)!.toFixed(1)} µs CPU per event (p99 ${run.latency.p99.toFixed(1)} ms)`);
        } finally {
          await api.stop();
        }
      }
    }
  } finally {
    await load.stop();
    await deleteTopics(brokers.split(','), [...topics.on.all, ...topics.off.all]);
    await down(services.started);
  }
  if (values.instructions) {
    process.stdout.write(instructionsTable(instructionsPerEvent) + micro);
    return;
  }
  const ratios = figures.on.map((on, i) => on / figures.off[i]!);
  const cpuRatios = cpuPerEvent.on.map((on, i) => on / cpuPerEvent.off[i]!);
  const rows = ratios.map(
    (ratio, i) =>
      `| ${i + 1} | ${Math.round(figures.off[i]!)} | ${Math.round(figures.on[i]!)} | ${ratio.toFixed(3)} | ${cpuPerEvent.off[i]!.toFixed(1)} | ${cpuPerEvent.on[i]!.toFixed(1)} | ${cpuRatios[i]!.toFixed(3)} |`,
  );
  const percent = (x: number): string => `${((x - 1) * 100).toFixed(1)}%`;
  process.stdout.write(
    [
      `POST /${kind === 'execute' ? 'execute' : 'execute/batch'} at saturation, ${connections} connections, ${seconds} s per run, events/s`,
      '',
      '| round | events/s off | events/s on | on / off | API µs CPU per event off | on | on / off |',
      '|---|---|---|---|---|---|---|',
      ...rows,
      `| median | ${Math.round(median(figures.off))} | ${Math.round(median(figures.on))} | ${(median(figures.on) / median(figures.off)).toFixed(3)} | ${median(cpuPerEvent.off).toFixed(1)} | ${median(cpuPerEvent.on).toFixed(1)} | ${(median(cpuPerEvent.on) / median(cpuPerEvent.off)).toFixed(3)} |`,
      '',
      `per-round events/s on/off: median ${percent(median(ratios))}, spread ${percent(Math.min(...ratios))} to ${percent(Math.max(...ratios))}`,
      `per-round CPU per event on/off: median ${percent(median(cpuRatios))}, spread ${percent(Math.min(...cpuRatios))} to ${percent(Math.max(...cpuRatios))}`,
      `run-to-run spread with the registry off: ${Math.round(Math.min(...figures.off))} to ${Math.round(Math.max(...figures.off))} events/s`,
      micro,
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
