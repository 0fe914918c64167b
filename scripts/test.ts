/**
 * `npm test [-- files...]`: brings up the real services once (or reuses those named in the
 * environment or left running by `npm run services -- up`), runs every `test/**\/*.test.ts` on
 * Node's test runner with their addresses in the environment, then stops what it started.
 *
 * Without java/mvn the Kafka suites skip with one loud line; with KITSUNE_REQUIRE_SERVICES=1 a
 * missing service fails the run instead.
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
  const services = await up({ requireKafka: requireServices });
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
