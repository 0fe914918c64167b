/**
 * `npm test [-- files...]`: brings up the real services once (or reuses those named in the
 * environment or left running by `npm run services -- up`), runs every `test/**\/*.test.ts` on
 * Node's test runner with their addresses in the environment, then stops what it started.
 *
 * Without java/mvn the Kafka suites skip with one loud line; with KITSUNE_REQUIRE_SERVICES=1 a
 * missing service fails the run instead. The schema registry starts only when a file under
 * test/schema-registry/ runs; its address goes to the tests as KITSUNE_TEST_SCHEMA_REGISTRY_URL,
 * not KITSUNE_SCHEMA_REGISTRY_URL, so no other suite's Kitsune registers schemas by accident.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { down, up, type Services } from './services/harness.ts';
import { repoRoot } from './services/state.ts';

const requireServices = process.env.KITSUNE_REQUIRE_SERVICES === '1';

async function testFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => relative(repoRoot, join(entry.parentPath, entry.name)))
    .sort();
}

function runNodeTests(files: string[], services: Services): Promise<number> {
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
    ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
    { cwd: repoRoot, env, stdio: 'inherit' },
  );
  return new Promise((resolveCode) => child.on('exit', (code, signal) => resolveCode(code ?? (signal ? 1 : 0))));
}

async function main(): Promise<number> {
  const requested = process.argv.slice(2);
  const files = requested.length > 0 ? requested : await testFiles(join(repoRoot, 'test'));
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
  try {
    return await runNodeTests(files, services);
  } finally {
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
