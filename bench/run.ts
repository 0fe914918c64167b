/**
 * `npm run bench [-- --quick] [-- --only ingest,db-worker] [-- --profile]`
 *
 * Measures the whole pipeline on the real services (started here, or reused when already running;
 * see scripts/services/harness.ts) and prints one table: each Kitsune figure beside a baseline
 * measured in the same run, their ratio, and the goal it is reported against. Absolute numbers
 * drift on a shared machine; the ratios are what to track. Writes everything as JSON to
 * bench/results/ (latest.json and a dated copy). Never a CI gate.
 *
 *   --quick     every row, with short runs and 20,000 events instead of 100,000 (under 2 minutes)
 *   --only      a comma-separated subset of: ingest, db-worker, e2e, log-worker, embedded, cold-start
 *   --profile   the same as --only profile: the API under /execute saturation and the DB worker
 *               draining, each under node --cpu-prof, summarised (bench/results/profiles/<run>/)
 *
 * docs/performance.md explains each row and what limits it.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { down, up, type Services } from '../scripts/services/harness.ts';
import { readState, repoRoot, servicesDir } from '../scripts/services/state.ts';
import { isAlive } from '../src/db/embedded.ts';
import { summariseProfiles } from './profile.ts';
import { coldStartSection } from './sections/cold-start.ts';
import { fullSettings, quickSettings, type Context, type Measurements, type Section } from './sections/context.ts';
import { dbWorkerSection } from './sections/db-worker.ts';
import { e2eSection } from './sections/e2e.ts';
import { embeddedSection } from './sections/embedded.ts';
import { ingestSection } from './sections/ingest.ts';
import { logWorkerSection } from './sections/log-worker.ts';
import { profileSection } from './sections/profile.ts';
import { cpuWindow, type CpuGroup } from './support/cpu.ts';
import type { LoadChild } from './support/load-child.ts';
import type { KafkaDirectChild } from './support/kafka-direct.ts';
import { buildRows, machine, renderCpu, renderMarkdown, renderTable } from './support/report.ts';
import { runKitsune } from './support/processes.ts';
import { forkChild, type ForkedChild } from './support/rpc.ts';
import { ensureBuildAsync } from './support/trees.ts';

/** The commit measured, and whether src/ had uncommitted changes (other work in progress). */
function sourceVersion(): { commit: string; srcModified: boolean } | undefined {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    return { commit: git('rev-parse', '--short', 'HEAD'), srcModified: git('status', '--porcelain', '--', 'src', 'commands', 'migrations') !== '' };
  } catch {
    return undefined;
  }
}

/**
 * Every role runs the compiled build, as a user's `npm install` leaves it (bin/kitsune.js picks
 * dist/ while it matches src/). Rebuilt here when src/ changed since the last build, while the
 * services start.
 */
async function buildIfChanged(): Promise<void> {
  const started = Date.now();
  if (await ensureBuildAsync()) log(`built dist/ in ${elapsed(started)} (src/ changed since the last build)`);
}

/** In run order: the embedded section warms the data directory cold-start then measures. */
const sections = new Map<string, { run: Section; kafka: boolean }>([
  ['ingest', { run: ingestSection, kafka: true }],
  ['db-worker', { run: dbWorkerSection, kafka: true }],
  ['e2e', { run: e2eSection, kafka: true }],
  ['log-worker', { run: logWorkerSection, kafka: true }],
  ['embedded', { run: embeddedSection, kafka: false }],
  ['cold-start', { run: coldStartSection, kafka: false }],
  ['profile', { run: profileSection, kafka: true }],
]);

/** What `npm run bench` runs without --only (profiling is separate: it slows what it watches). */
const tableSections = ['ingest', 'db-worker', 'e2e', 'log-worker', 'embedded', 'cold-start'];

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, profile: { type: 'boolean', default: false } },
});
const chosen = args.profile ? ['profile'] : args.only ? args.only.split(',').map((name) => name.trim()) : tableSections;
const unknown = chosen.filter((name) => !sections.has(name));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown section(s) ${unknown.join(', ')}; choose from ${[...sections.keys()].join(', ')}\n`);
  process.exit(2);
}

const settings = args.quick ? quickSettings : fullSettings;
const runId = `${new Date().toISOString().slice(2, 10).replaceAll('-', '')}${randomBytes(3).toString('hex')}`;
const resultsDir = join(repoRoot, 'bench', 'results');
const profileDir = join(resultsDir, 'profiles', runId);
const runStarted = Date.now();
/** Each line with the seconds since the run started, to see where a run's time goes. */
const log = (line: string): void => void process.stderr.write(`bench: ${((Date.now() - runStarted) / 1000).toFixed(1).padStart(5)} s  ${line}\n`);
const elapsed = (since: number): string => `${((Date.now() - since) / 1000).toFixed(0)} s`;

const tracked = new Set<{ stop(): Promise<unknown> }>();
let services: Services | undefined;
let loadChild: ForkedChild<LoadChild> | undefined;
let directChild: Promise<ForkedChild<KafkaDirectChild>> | undefined;
const embeddedDataDir = join(repoRoot, '.kitsune', 'bench', runId);

async function cleanUp(): Promise<void> {
  await Promise.all([...tracked].map((item) => item.stop().catch(() => undefined)));
  await loadChild?.stop();
  await directChild?.then((child) => child.stop()).catch(() => undefined);
  await rm(embeddedDataDir, { recursive: true, force: true }).catch(() => undefined);
  if (services) await down(services.started);
}

process.once('SIGINT', () => {
  log('interrupted; stopping what this run started');
  void cleanUp().finally(() => process.exit(130));
});

/**
 * A broker just started runs in the JVM's interpreter until its hot paths are compiled: the first
 * section measured on it saw a third of the produce rate and three times the CPU per request that
 * a warm broker gives. Produce and consume traffic of every shape the sections use goes first.
 */
async function warmBroker(ctx: Context): Promise<void> {
  const warmStarted = Date.now();
  const seconds = ctx.settings.quick ? 2 : 8;
  const direct = await ctx.direct();
  await direct.call('init', { brokers: ctx.brokers, prefix: `bench-${ctx.runId}-warm` });
  await direct.call('saturate', { eventsPerSend: 100, seconds });
  await direct.call('fixedRate', { eventsPerSecond: 2_000, eventsPerArrival: 1, seconds });
  await direct.call('roundTrip', { eventsPerSecond: 2_000, seconds: ctx.settings.quick ? 1 : seconds });
  log(`broker warmed up in ${elapsed(warmStarted)}`);
}

/**
 * The embedded mode's first start initialises its data directory (initdb, migrations): seconds
 * that measure nothing. `kitsune migrate` does it while the broker warms up, so the embedded
 * section starts on a ready directory, as the cold-start section's runs do.
 */
function prepareEmbeddedDataDir(): Promise<void> {
  if (!chosen.includes('embedded') && !chosen.includes('cold-start')) return Promise.resolve();
  const started = Date.now();
  return runKitsune(['migrate'], { KITSUNE_DATA_DIR: embeddedDataDir }).then(() => log(`embedded data directory initialised in ${elapsed(started)}`));
}

async function main(): Promise<number> {
  const started = Date.now();
  const loadAtStart = loadavg().map((v) => Number(v.toFixed(2)));
  const source = sourceVersion();
  log(`run ${runId}: ${chosen.join(', ')}${args.quick ? ' (quick)' : ''}; load average ${loadAtStart.join(' ')}; source ${source ? `${source.commit}${source.srcModified ? ' with uncommitted changes in src/' : ''}` : 'unknown'}`);
  // Each is awaited whatever becomes of the other: nothing is left running behind, and a build that
  // fails while the services start is not an unhandled rejection (which would skip stopping them).
  const [servicesUp, built] = await Promise.allSettled([up({ requireKafka: chosen.some((name) => sections.get(name)!.kafka) }), buildIfChanged()]);
  if (servicesUp.status === 'rejected') throw servicesUp.reason;
  services = servicesUp.value;
  if (built.status === 'rejected') throw built.reason;
  const state = await readState(servicesDir());
  const servicePids = {
    postgres: state.postgres && isAlive(state.postgres.pid) && state.postgres.dsn === services.postgresDsn ? [state.postgres.pid] : [],
    kafka: services.kafkaPid ? [services.kafkaPid] : [],
  };
  const results: Measurements = { memory: {}, cpu: {}, errors: {} };
  const ctx: Context = {
    settings,
    runId,
    services,
    brokers: services.kafkaBrokers?.split(',') ?? [],
    profileDir,
    embeddedDataDir,
    results,
    direct: async () => {
      directChild ??= forkChild<KafkaDirectChild>('bench/support/kafka-direct.ts');
      return directChild;
    },
    load: async () => {
      if (!loadChild) {
        loadChild = await forkChild<LoadChild>('bench/support/load-child.ts');
        await loadChild.call('init', { scope: runId });
      }
      return loadChild;
    },
    cpu: (label, pids) => {
      const { measured, postgres = [], others = {} } = pids;
      const asGroups = (named: Record<string, number[]>): Array<[string, CpuGroup]> => Object.entries(named).map(([name, list]) => [name, { pids: list, tree: true }]);
      const groups: Record<string, CpuGroup> = {
        postgres: { pids: [...servicePids.postgres, ...postgres], tree: true },
        kafka: { pids: servicePids.kafka, tree: false },
        ...Object.fromEntries(asGroups(measured)),
        ...Object.fromEntries(asGroups(others)),
        'load generator': { pids: loadChild ? [loadChild.pid] : [], tree: false },
        bench: { pids: [process.pid], tree: false },
      };
      const end = cpuWindow(groups);
      return (eventsPerSecond) => {
        const cores = end();
        const measuredCores = Object.keys(measured).reduce((sum, name) => sum + (cores[name] ?? 0), 0);
        results.cpu[label] = {
          cores,
          measured: Object.keys(measured),
          ...(eventsPerSecond ? { usPerEvent: Math.round((measuredCores * 1e6) / eventsPerSecond), eventsPerSecond } : {}),
        };
      };
    },
    baseline: async (name, run) => {
      try {
        return await run();
      } catch (error) {
        results.errors[name] = error instanceof Error ? (error.stack ?? error.message) : String(error);
        log(`baseline ${name} FAILED, going on without it: ${results.errors[name]}`);
        return undefined;
      }
    },
    track: (stoppable) => {
      tracked.add(stoppable);
      return stoppable;
    },
    log,
  };
  // Side by side, each awaited whatever becomes of the other (as the build and the services above).
  for (const step of await Promise.allSettled([prepareEmbeddedDataDir(), ctx.brokers.length > 0 ? warmBroker(ctx) : undefined])) {
    if (step.status === 'rejected') throw step.reason;
  }
  for (const name of chosen) {
    const sectionStarted = Date.now();
    log(`── ${name}`);
    try {
      await sections.get(name)!.run(ctx);
      log(`── ${name} done in ${elapsed(sectionStarted)}`);
    } catch (error) {
      results.errors[name] = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`── ${name} FAILED after ${elapsed(sectionStarted)}: ${results.errors[name]}`);
    }
  }

  // With --only, rows of sections that did not run are left out (memory rows come from several).
  // Cost rows exist only for the windows that ran.
  const rows = buildRows(results, settings).filter((row) =>
    row.section === 'memory' ? row.figure !== 'not run' : row.section === 'cost' || chosen.includes(row.section),
  );
  process.stdout.write(
    `\nKitsune benchmarks, run ${runId} on ${source?.commit ?? 'an unknown commit'}${source?.srcModified ? ' (+ uncommitted src/ changes)' : ''}` +
      `${args.quick ? ' (--quick: short runs, fewer events)' : ''}, ${elapsed(started)}. Ratio = figure ÷ baseline (latency: p99 ÷ p99).\n\n`,
  );
  process.stdout.write(`${renderTable(rows)}\n\n`);

  await mkdir(resultsDir, { recursive: true });
  if (Object.keys(results.cpu).length > 0) process.stdout.write(`Where the CPU went (cores; 2 = the whole machine):\n\n${renderCpu(results.cpu)}\n\n`);
  for (const [name, error] of Object.entries(results.errors)) process.stdout.write(`FAILED: ${name}: ${error.split('\n').filter((line) => !line.trimStart().startsWith('at ')).join(' / ')}\n`);
  if (Object.keys(results.errors).length > 0) process.stdout.write('\n');
  if (results.goPeers?.available === false) process.stdout.write(`Note: the Go reference rows were skipped: ${results.goPeers.reason}\n\n`);
  if (loadAtStart[0]! > 1) process.stdout.write(`Note: the load average was ${loadAtStart.join(' ')} when the run started; other work on this machine lowers every figure (see "other" above).\n\n`);
  const report = { date: new Date().toISOString(), runId, source, quick: args.quick, sections: chosen, seconds: Math.round((Date.now() - started) / 1000), machine: { ...machine(), loadAverageAtStart: loadAtStart }, settings, results, rows, markdown: renderMarkdown(rows) };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(join(resultsDir, `bench-${runId}.json`), json);
  await writeFile(join(resultsDir, 'latest.json'), json);
  log(`results written to bench/results/bench-${runId}.json (and latest.json)`);

  if (existsSync(profileDir)) process.stdout.write(`${await summariseProfiles(profileDir)}\n`);
  return Object.keys(results.errors).length > 0 ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
} finally {
  await cleanUp();
}
process.exit(code);
