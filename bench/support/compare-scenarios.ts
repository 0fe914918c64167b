/**
 * The scenarios bench/compare.ts runs for each build: one fresh set of topics (and database) per
 * round, the roles of that build, and the CPU time of each process per event over the window.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { publishCreateUsers } from '../sections/db-worker.ts';
import { publishLogRecords } from '../sections/log-worker.ts';
import { cpuTimeWindow, type CpuGroup } from './cpu.ts';
import { benchTopics, createDatabase, createTopics, deleteTopics, metricSum } from './infra.ts';
import type { LoadChild } from './load-child.ts';
import type { LokiChild } from './loki-child.ts';
import { spawnRole, type Spawned } from './processes.ts';
import { forkChild, type ForkedChild } from './rpc.ts';

export interface Build {
  name: 'base' | 'head';
  root: string;
  commit: string;
  /** Added to every role's environment (NODE_OPTIONS with V8 flags, say). */
  env: Record<string, string>;
  /** Where its roles write --cpu-prof profiles; none when undefined. */
  profileDir?: string | undefined;
}

export interface ScenarioEnv {
  runId: string;
  brokers: string[];
  postgresDsn: string;
  postgresPid: number | undefined;
  kafkaPid: number | undefined;
  load: ForkedChild<LoadChild>;
  freePort: () => Promise<number>;
  log: (line: string) => void;
  rate: number;
  seconds: number;
  events: number;
  /** db-worker: every Nth event drained is refused by PostgreSQL (0: none). */
  poisonEvery: number;
}

export interface Round {
  build: Build['name'];
  events: number;
  /** CPU µs per event by process (Kitsune's roles, PostgreSQL, Kafka). */
  usPerEvent: Record<string, number>;
  /** Peak RSS (VmHWM) of each of Kitsune's roles at the end of the round, MB. */
  peakMb: Record<string, number>;
  p99Ms?: number;
}

/** Each role's peak RSS now, by its name in the round. */
function peaks(processes: Record<string, Spawned>): Record<string, number> {
  return Object.fromEntries(Object.entries(processes).map(([name, p]) => [name, Math.round(p.memory()?.peakMb ?? 0)]));
}

const role = (name: Parameters<typeof spawnRole>[0], env: Record<string, string>, build: Build): Promise<Spawned> => spawnRole(name, { ...env, ...build.env }, build.profileDir, build.root);

function services(env: ScenarioEnv): Record<string, CpuGroup> {
  return {
    ...(env.postgresPid ? { postgres: { pids: [env.postgresPid], tree: true } } : {}),
    ...(env.kafkaPid ? { kafka: { pids: [env.kafkaPid], tree: false } } : {}),
  };
}

function perEvent(cpu: Record<string, number>, events: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cpu).map(([name, seconds]) => [name, Math.round((seconds * 1e6) / Math.max(1, events))]));
}

const accepted = (statuses: Record<string, number>): number => statuses['202'] ?? 0;

async function stopAll(processes: readonly Spawned[]): Promise<void> {
  await Promise.all(processes.map((p) => p.stop()));
}

async function api(env: ScenarioEnv, build: Build, tag: string): Promise<Round> {
  const topics = benchTopics(`cmp-${env.runId}-${tag}-api`);
  await createTopics(env.brokers, topics);
  const port = await env.freePort();
  const server = await role('api', { HTTP_PORT: String(port), KAFKA_BROKERS: env.brokers.join(','), ...topics.env }, build);
  try {
    const url = `http://127.0.0.1:${port}`;
    await env.load.call('fixedRate', { url, kind: 'execute', batchSize: 1, eventsPerSecond: env.rate, seconds: 3 });
    const window = cpuTimeWindow({ 'kitsune api': { pids: [server.pid], tree: false }, ...services(env) });
    const run = await env.load.call('fixedRate', { url, kind: 'execute', batchSize: 1, eventsPerSecond: env.rate, seconds: env.seconds });
    const events = accepted(run.statuses);
    return { build: build.name, events, usPerEvent: perEvent(window().cpu, events), peakMb: peaks({ 'kitsune api': server }), p99Ms: run.latency.p99 };
  } finally {
    await server.stop();
    await deleteTopics(env.brokers, topics.all);
  }
}

async function until(what: string, done: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A probe that fails (a metrics port not listening yet) counts as not done.
  while (!(await done().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function e2e(env: ScenarioEnv, build: Build, tag: string): Promise<Round> {
  const database = await createDatabase(env.postgresDsn, `kitsune_cmp_${env.runId}_${tag}`);
  const topics = benchTopics(`cmp-${env.runId}-${tag}-e2e`);
  const loki = await forkChild<LokiChild>('bench/support/loki-child.ts');
  const common = { KAFKA_BROKERS: env.brokers.join(','), POSTGRES_DSN: database.dsn, LOKI_URL: await loki.call('url'), KAFKA_GROUP_ID: `cmp-${env.runId}-${tag}`, ...topics.env };
  const port = await env.freePort();
  const processes = await Promise.all([
    role('api', { ...common, HTTP_PORT: String(port) }, build),
    role('db-worker', { ...common, KITSUNE_METRICS_PORT: '0' }, build),
    role('log-worker', { ...common, KITSUNE_METRICS_PORT: '0' }, build),
  ]);
  try {
    const url = `http://127.0.0.1:${port}`;
    const [apiProcess, dbWorker, logWorker] = processes;
    const warm = await env.load.call('fixedRate', { url, kind: 'execute', batchSize: 1, eventsPerSecond: Math.min(500, env.rate), seconds: 3 });
    await env.load.call('waitForResults', { url, ids: warm.lastIds, timeoutSeconds: 60 });
    const warmLines = accepted(warm.statuses);
    await until('the warm-up log lines', async () => (await loki.call('stats')).acceptedEntries >= warmLines);
    const window = cpuTimeWindow({
      'kitsune api': { pids: [apiProcess.pid], tree: false },
      'kitsune db-worker': { pids: [dbWorker.pid], tree: false },
      'kitsune log-worker': { pids: [logWorker.pid], tree: false },
      ...services(env),
    });
    const run = await env.load.call('fixedRate', { url, kind: 'execute', batchSize: 1, eventsPerSecond: env.rate, seconds: env.seconds, e2e: { sampleEvery: Math.max(1, Math.ceil(env.rate / 200)), waitSeconds: 10 } });
    const events = accepted(run.statuses);
    const drained = await env.load.call('waitForResults', { url, ids: run.lastIds, timeoutSeconds: 120 });
    if (drained.pending > 0) env.log(`  ${drained.pending} results still pending`);
    await until('every log line', async () => (await loki.call('stats')).acceptedEntries >= warmLines + events);
    const peakMb = peaks({ 'kitsune api': apiProcess, 'kitsune db-worker': dbWorker, 'kitsune log-worker': logWorker });
    return { build: build.name, events, usPerEvent: perEvent(window().cpu, events), peakMb, p99Ms: run.e2e?.latency.p99 };
  } finally {
    await stopAll(processes);
    await loki.stop();
    await deleteTopics(env.brokers, topics.all);
    await database.drop();
  }
}

async function dbWorker(env: ScenarioEnv, build: Build, tag: string): Promise<Round> {
  const database = await createDatabase(env.postgresDsn, `kitsune_cmp_${env.runId}_${tag}`);
  const topics = benchTopics(`cmp-${env.runId}-${tag}-dbw`);
  try {
    await publishCreateUsers({ brokers: env.brokers, log: env.log }, topics, `${env.runId}.${tag}`, env.events, env.poisonEvery);
    const port = await env.freePort();
    const metrics = `http://127.0.0.1:${port}/metrics`;
    const worker = await role(
      'db-worker',
      { KAFKA_BROKERS: env.brokers.join(','), POSTGRES_DSN: database.dsn, KAFKA_GROUP_ID: `cmp-${randomUUID().slice(0, 8)}`, KITSUNE_METRICS_PORT: String(port), ...topics.env },
      build,
    );
    try {
      let first = 0;
      await until('the first outcome', async () => (first = await metricSum(metrics, 'kitsune_db_events_total')) > 0);
      const window = cpuTimeWindow({ 'kitsune db-worker': { pids: [worker.pid], tree: false }, ...services(env) });
      await until('the drain', async () => (await metricSum(metrics, 'kitsune_db_events_total')) >= env.events, 300_000);
      return { build: build.name, events: env.events - first, usPerEvent: perEvent(window().cpu, env.events - first), peakMb: peaks({ 'kitsune db-worker': worker }) };
    } finally {
      await worker.stop();
    }
  } finally {
    await deleteTopics(env.brokers, topics.all);
    await database.drop();
  }
}

async function logWorker(env: ScenarioEnv, build: Build, tag: string): Promise<Round> {
  const topics = benchTopics(`cmp-${env.runId}-${tag}-logs`);
  const loki = await forkChild<LokiChild>('bench/support/loki-child.ts');
  try {
    await publishLogRecords({ brokers: env.brokers, log: env.log }, topics, env.events);
    const worker = await role(
      'log-worker',
      { KAFKA_BROKERS: env.brokers.join(','), LOKI_URL: await loki.call('url'), KAFKA_GROUP_ID: `cmp-${randomUUID().slice(0, 8)}`, KITSUNE_METRICS_PORT: '0', ...topics.env },
      build,
    );
    try {
      let first = 0;
      await until('the first stored line', async () => (first = (await loki.call('stats')).acceptedEntries) > 0, 120_000);
      const window = cpuTimeWindow({ 'kitsune log-worker': { pids: [worker.pid], tree: false }, ...services(env) });
      await until('the drain', async () => (await loki.call('stats')).acceptedEntries >= env.events, 300_000);
      return { build: build.name, events: env.events - first, usPerEvent: perEvent(window().cpu, env.events - first), peakMb: peaks({ 'kitsune log-worker': worker }) };
    } finally {
      await worker.stop();
    }
  } finally {
    await loki.stop();
    await deleteTopics(env.brokers, topics.all);
  }
}

const scenarios = new Map([
  ['api', api],
  ['e2e', e2e],
  ['db-worker', dbWorker],
  ['log-worker', logWorker],
]);

export function runScenario(name: string, env: ScenarioEnv, build: Build, tag: string): Promise<Round> {
  const scenario = scenarios.get(name);
  if (!scenario) throw new Error(`unknown scenario ${name}; choose from ${[...scenarios.keys()].join(', ')}`);
  return scenario(env, build, tag);
}
