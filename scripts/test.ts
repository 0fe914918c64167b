/**
 * `npm test [-- files...]`: brings up the real services once (or reuses those named in the
 * environment or left running by `npm run services -- up`), runs every `test/**\/*.test.ts` on
 * Node's test runner with their addresses in the environment, then stops what it started.
 *
 * Without java/mvn the Kafka suites skip with one loud line; with KITSUNE_REQUIRE_SERVICES=1 a
 * missing service fails the run instead. The schema registry starts only when a file under
 * test/schema-registry/ runs; its address goes to the tests as KITSUNE_TEST_SCHEMA_REGISTRY_URL,
 * not KITSUNE_SCHEMA_REGISTRY_URL, so no other suite's Kitsune registers schemas by accident.
 *
 * Files start longest first (scripts/test-order.ts), two at a time (KITSUNE_TEST_CONCURRENCY);
 * the run ends by naming the slowest. `--write-durations` (`npm run test:durations`) records this
 * run's seconds per file as the order for the next runs.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { down, up, type Services } from './services/harness.ts';
import { repoRoot } from './services/state.ts';
import { longestFirst, readDurations, writeDurations, type Durations } from './test-order.ts';

const requireServices = process.env.KITSUNE_REQUIRE_SERVICES === '1';
/** Test files run at once, each in its own process (KITSUNE_TEST_CONCURRENCY; default 2). */
const concurrency = process.env.KITSUNE_TEST_CONCURRENCY ?? '2';

async function testFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => relative(repoRoot, join(entry.parentPath, entry.name)))
    .sort();
}

function runNodeTests(files: string[], services: Services, durationsOut: string): Promise<number> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    POSTGRES_DSN: services.postgresDsn,
    ...(services.kafkaBrokers ? { KAFKA_BROKERS: services.kafkaBrokers } : {}),
    ...(services.kafkaSkipReason ? { KITSUNE_KAFKA_SKIP_REASON: services.kafkaSkipReason } : {}),
    ...(services.kafkaPid ? { KITSUNE_TEST_KAFKA_PID: String(services.kafkaPid) } : {}),
    ...(services.schemaRegistryUrl ? { KITSUNE_TEST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl } : {}),
    ...(services.schemaRegistrySkipReason ? { KITSUNE_SCHEMA_REGISTRY_SKIP_REASON: services.schemaRegistrySkipReason } : {}),
  };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'scripts', 'test-run.ts'), '--concurrency', concurrency, '--durations', durationsOut, '--', ...files],
    { cwd: repoRoot, env, stdio: 'inherit' },
  );
  return new Promise((resolveCode) => child.on('exit', (code, signal) => resolveCode(code ?? (signal ? 1 : 0))));
}

async function readMeasured(path: string): Promise<Durations> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Durations;
  } catch {
    return {};
  }
}

function reportSlowest(measured: Durations): void {
  const slowest = Object.entries(measured).sort(([, a], [, b]) => b - a).slice(0, 5);
  if (slowest.length < 2) return;
  process.stdout.write(`\nslowest files:\n${slowest.map(([file, s]) => `  ${s.toFixed(1).padStart(6)} s  ${file}`).join('\n')}\n`);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const record = args.includes('--write-durations');
  const requested = args.filter((arg) => arg !== '--write-durations');
  const all = await testFiles(join(repoRoot, 'test'));
  const files = longestFirst(requested.length > 0 ? requested : all, await readDurations());
  const needsRegistry = files.some((file) => file.split(/[\\/]/).includes('schema-registry'));
  const services = await up({ requireKafka: requireServices, schemaRegistry: needsRegistry && (requireServices ? 'required' : true) });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await down(services.started);
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  process.once('SIGTERM', () => void stop().finally(() => process.exit(143)));

  if (services.kafkaSkipReason) {
    process.stderr.write(
      `\n*** SKIPPING the Kafka suites: ${services.kafkaSkipReason}. ` +
        'Install a JDK 17+ and Maven, or set KAFKA_BROKERS; KITSUNE_REQUIRE_SERVICES=1 makes this a failure. ***\n\n',
    );
  }
  if (services.schemaRegistrySkipReason) {
    process.stderr.write(`\n*** SKIPPING the schema registry suites: ${services.schemaRegistrySkipReason}. KITSUNE_REQUIRE_SERVICES=1 makes this a failure. ***\n\n`);
  }
  const scratch = await mkdtemp(join(tmpdir(), 'kitsune-test-'));
  try {
    const code = await runNodeTests(files, services, join(scratch, 'durations.json'));
    const measured = await readMeasured(join(scratch, 'durations.json'));
    reportSlowest(measured);
    if (record && code === 0) {
      await writeDurations(measured, all);
      process.stdout.write(`test: wrote the seconds of ${Object.keys(measured).length} files to scripts/test-durations.json\n`);
    } else if (record) {
      process.stderr.write('test: a test failed, so scripts/test-durations.json was left as it was\n');
    }
    return code;
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`test: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
