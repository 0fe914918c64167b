/**
 * `npm run test:faults [-- --soak | --ci] [--seed N] [--events N] [--rate N] [--faults none|NAME,NAME...] [--keep]`
 *
 * Kitsune as designed (3 APIs, 5 DB workers, 2 log workers) on a 3-node Kafka cluster,
 * PostgreSQL and the Loki test server, all started here and stopped by PID. A seeded load runs
 * while the nemesis injects its seeded faults; then everything is healed, the run waits for quiet
 * (conditions, not time), and the checker compares the history with what PostgreSQL, the topics
 * and Loki hold. Prints the table; exits 1 when a safety figure is not 0, a fault did not recover,
 * or a worker kill did not recover within the consumer session timeout + 5 s. `--ci` runs the
 * smoke tier's faults on 3,000 events and only reports that limit (docs/decisions/0041).
 * The history (JSON lines) stays in the run folder.
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../../scripts/services/state.ts';
import { kafkaUnavailableReason } from '../../scripts/services/kafka.ts';
import { kafkaDefaults } from '../../src/transport/kafka/options.ts';
import { topicReplication } from '../support/kafka-replication.ts';
import { check } from './checker.ts';
import { gather } from './gather.ts';
import { planLoad, rawProducer, runLoad } from './generator.ts';
import { LoadGate } from './gate.ts';
import { History } from './history.ts';
import { runNemesis, type Recovery } from './nemesis.ts';
import { quiesce } from './quiesce.ts';
import { seeded } from './random.ts';
import { latency, passed, table, type RunSummary } from './report.ts';
import { Roles } from './roles.ts';
import { FaultNames, parseFaultList, schedule, smokeFaults, soakFaults } from './schedule.ts';
import { startFaultServices, type FaultServices } from './services.ts';

const { values } = parseArgs({
  options: {
    soak: { type: 'boolean', default: false },
    ci: { type: 'boolean', default: false },
    seed: { type: 'string' },
    events: { type: 'string' },
    rate: { type: 'string' },
    keep: { type: 'boolean', default: false },
    faults: { type: 'string' },
  },
});

if (values.soak && values.ci) throw new Error('--soak and --ci are different tiers: pick one');
const tier = values.soak ? 'soak' : values.ci ? 'ci' : 'smoke';
const seed = values.seed === undefined ? randomInt(1, 2 ** 31 - 1) : Number(values.seed);
// The CI tier: the smoke tier's faults on fewer events, to fit the CI budget (the faults, each
// waiting for its recovery, take most of a run's time whatever the events).
const events = Number(values.events ?? (values.soak ? 100_000 : values.ci ? 3_000 : 10_000));
// Paced, not maximal: the run is about correctness on a shared machine, and the load must outlast
// the faults, each of which waits for its recovery before the next begins.
const rate = Number(values.rate ?? (values.soak ? 150 : 40));
const topics = { dbEvents: 'db-events', appLogs: 'app-logs', dbResults: 'db-results' };
const groupId = 'kitsune-faults';
const groups = { dbWorker: `${groupId}.db-worker`, logWorker: `${groupId}.log-worker` };
const readyTimeoutMs = 300_000;
const recoveryLimitMs = kafkaDefaults.sessionTimeoutMs + 5_000;
const log = (line: string): void => void process.stderr.write(`faults: ${line}\n`);

async function startRoles(services: FaultServices, roles: Roles): Promise<void> {
  const env = {
    KAFKA_BROKERS: services.brokers.join(','),
    KAFKA_GROUP_ID: groupId,
    POSTGRES_DSN: services.postgresDsn,
    LOKI_URL: services.loki.url,
    KITSUNE_REGISTRY: join(repoRoot, 'test', 'faults', 'registry.yaml'),
    KITSUNE_MIGRATIONS_DIR: join(repoRoot, 'test', 'faults', 'migrations'),
    KITSUNE_LOKI_BATCH_WAIT_MS: '200',
    KITSUNE_LOG_LEVEL: 'info',
  };
  // The first API creates the topics and applies the migrations; the rest start together.
  await roles.add('api', env, readyTimeoutMs);
  await Promise.all([
    roles.add('api', env, readyTimeoutMs),
    roles.add('api', env, readyTimeoutMs),
    ...[1, 2, 3, 4].map(() => roles.add('db-worker', env, readyTimeoutMs)),
    roles.add('log-worker', env, readyTimeoutMs),
    roles.add('log-worker', env, readyTimeoutMs),
  ]);
  // The fifth DB worker reaches PostgreSQL through the ambiguous-commit proxy.
  await roles.add('db-worker', { ...env, POSTGRES_DSN: services.proxy.dsn }, readyTimeoutMs);
}

async function main(): Promise<number> {
  const unavailable = kafkaUnavailableReason();
  if (unavailable) throw new Error(`the fault suite needs Kafka, but ${unavailable}`);
  // Ten processes start (and restart) from dist/: compiling src/ in each would cost a loaded
  // machine tens of seconds per start. bin/kitsune.js runs dist/ only when it matches src/.
  const build = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'build.ts')], { cwd: repoRoot, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const durations: Record<string, number> = {};
  const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await work();
    } finally {
      durations[phase] = Date.now() - t0;
      log(`${phase}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  };
  const dir = await mkdtemp(join(tmpdir(), `kitsune-faults-${seed}-`));
  // As root PostgreSQL runs as the postgres user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  log(`tier ${tier}, seed ${seed}, ${events} events at up to ${rate}/s; run folder ${dir}`);
  const random = seeded(seed);
  const plan = planLoad(random, { events, clients: 32, entities: Math.max(64, Math.round(events / 40)), invalidShare: 0.01, poisonShare: 0.005, rawEvery: 200 });
  const faults =
    values.faults === 'none'
      ? []
      : values.faults !== undefined
        ? schedule(random, parseFaultList(values.faults), { inOrder: true })
        : schedule(random, values.soak ? soakFaults : smokeFaults);
  const history = new History(join(dir, 'history.jsonl'));
  history.add({ type: 'run', seed, tier, events, at: new Date().toISOString(), settings: { rate, faults } });

  const services = await timed('start services', () => startFaultServices(join(dir, 'services')));
  const roles = new Roles(dir);
  // Ctrl-C or a CI timeout: stop what this run started, by PID, before going.
  const interrupted = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping every process this run started`);
    void roles
      .stopAll(5_000)
      .then(() => services.close())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let ok = false;
  try {
    await timed('start Kitsune', () => startRoles(services, roles));
    const replication = await topicReplication(services.brokers, topics.dbEvents);
    if (replication.replicas.some((replicas) => replicas !== 3) || replication.minInsyncReplicas !== 2) {
      throw new Error(`${topics.dbEvents} is not replicated as the cluster should make it: ${JSON.stringify(replication)}`);
    }

    let answered = 0;
    const waiters: Array<{ share: number; wake: () => void }> = [];
    const progress = (share: number): Promise<void> =>
      answered / events >= share ? Promise.resolve() : new Promise((wake) => waiters.push({ share, wake }));
    const apis = (): string[] => roles.byRole('api').map((api) => `http://127.0.0.1:${api.port}`);
    let recoveries: Recovery[] = [];
    await timed('load and faults', async () => {
      const gate = new LoadGate(events);
      const raw = rawProducer(services.brokers, topics.dbEvents);
      const load = runLoad(plan, {
        apis,
        history,
        rate,
        produceRaw: raw.produce,
        gate: (index) => gate.until(index),
        onProgress: (done) => {
          answered = done;
          if (done % 1_000 === 0) log(`${done} operations answered`);
          for (const waiter of waiters.filter((w) => done / events >= w.share)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.wake();
          }
        },
      });
      const nemesis = runNemesis(
        { services, roles, history, random, groups, topics, progress, gate, done: () => answered / events, readyTimeoutMs, recoveryDeadlineMs: 180_000, log },
        faults,
      ).then((measured) => (recoveries = measured));
      await Promise.all([load, nemesis]).finally(() => raw.close());
    });
    // A system that never settles is a finding too: the table is still read and printed.
    let notQuiet: string | undefined;
    const quietMs = await timed('quiesce', () =>
      quiesce({ brokers: services.brokers, groups: [{ group: groups.dbWorker, topic: topics.dbEvents }, { group: groups.logWorker, topic: topics.appLogs }] }, 600_000),
    ).catch((error: unknown) => {
      notQuiet = error instanceof Error ? error.message : String(error);
      return -1;
    });
    log(notQuiet ?? `quiet after ${quietMs} ms`);
    const observed = await timed('read back', () => gather({ postgresDsn: services.postgresDsn, brokers: services.brokers, topics, loki: services.loki }));
    await history.close();
    const summary: RunSummary = {
      seed,
      tier,
      events,
      figures: check(history.entries, observed),
      crashes: roles.crashes,
      recoveries,
      recoveryLimitMs,
      recoveryLimitDecides: tier !== 'ci',
      ambiguousCommits: services.proxy.ambiguousCommits,
      ambiguousCommitsPlanned: faults.filter((f) => f.fault === FaultNames.ambiguousCommit).length,
      latency: latency(history.entries),
      durations,
      historyPath: history.path,
    };
    ok = passed(summary) && notQuiet === undefined;
    const recoveredHow = summary.recoveryLimitDecides ? 'every fault recovered, worker kills in time' : 'every fault recovered (the time limit is reported only)';
    const verdict = ok ? `PASS: every safety figure is 0 and ${recoveredHow}` : `FAIL: ${notQuiet ?? 'see the rows marked FAIL'}`;
    const text = `${table(summary)}\n\n${verdict}\n`;
    await writeFile(join(dir, 'report.txt'), text);
    process.stdout.write(`\n${text}`);
  } finally {
    await roles.stopAll();
    await services.close();
    // Logs, history and report stay; the data goes unless asked to keep it.
    if (!values.keep) await rm(join(dir, 'services'), { recursive: true, force: true });
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`faults: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
