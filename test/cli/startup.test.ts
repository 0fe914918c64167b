/**
 * Every fatal start-up error, as a user meets it: the real `kitsune` binary ends with one line on
 * stderr that names the fix and an exit code from the table in docs/cli.md, and leaves nothing
 * running behind it (no embedded PostgreSQL, no instance file).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ExitCodes } from '../../src/cli/exit-codes.ts';
import { freePort } from '../../src/cli/ports.ts';
import { dataDir, kitsune, startKitsune, type CliResult } from './support.ts';

/** A data directory PostgreSQL (run as `postgres` when we are root) can enter. */
async function embeddedDir(t: TestContext): Promise<string> {
  const dir = await dataDir(t);
  await chmod(dir, 0o755);
  return dir;
}

/** A port this test listens on until it ends. */
async function takenPort(t: TestContext): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  t.after(() => new Promise<void>((resolveClose) => server.close(() => resolveClose())));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/** The one line on stderr (and nothing else there). */
function oneLine(result: CliResult): string {
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  assert.doesNotMatch(lines[0]!, /^\s+at /);
  return lines[0]!;
}

/** Nothing of an embedded instance is left in `dir`: no running cluster, no instance file. */
function assertNothingLeft(dir: string): void {
  assert.equal(existsSync(join(dir, 'postgres', 'postmaster.pid')), false, 'the embedded PostgreSQL was stopped');
  assert.equal(existsSync(join(dir, 'embedded.json')), false, 'the instance file was removed');
}

const quiet = { KITSUNE_LOG_LEVEL: 'warn' };

test('kitsune start with HTTP_PORT taken exits 5 naming the port, before it starts PostgreSQL', async (t) => {
  const dir = await embeddedDir(t);
  const port = await takenPort(t);
  const result = await kitsune(['start'], { ...quiet, KITSUNE_DATA_DIR: dir, HTTP_PORT: String(port) });
  assert.equal(result.code, ExitCodes.addressInUse, result.stderr);
  assert.match(oneLine(result), new RegExp(`kitsune start: port ${port} \\(HTTP_PORT\\) is already in use .*set HTTP_PORT to a free port`));
  assert.equal(existsSync(join(dir, 'postgres')), false, 'no cluster was created');
});

test('kitsune db-worker with its metrics port taken exits 5 naming KITSUNE_METRICS_PORT', async (t) => {
  const port = await takenPort(t);
  const result = await kitsune(['db-worker'], { ...quiet, POSTGRES_DSN: process.env.POSTGRES_DSN, KITSUNE_METRICS_PORT: String(port) });
  assert.equal(result.code, ExitCodes.addressInUse, result.stderr);
  assert.match(oneLine(result), new RegExp(`port ${port} \\(KITSUNE_METRICS_PORT\\) is already in use`));
});

test('a second kitsune start on the same data directory exits 6 with the first one\'s pid and URL', { timeout: 180_000 }, async (t) => {
  const dir = await embeddedDir(t);
  const first = await startKitsune(t, { KITSUNE_DATA_DIR: dir }, 120_000);
  const port = new URL(first.url).port;
  // On another port, and on the very same one: either way the answer is "already running".
  for (const httpPort of ['0', port]) {
    const second = await kitsune(['start'], { ...quiet, KITSUNE_DATA_DIR: dir, HTTP_PORT: httpPort });
    assert.equal(second.code, ExitCodes.alreadyRunning, second.stderr);
    assert.match(oneLine(second), new RegExp(`already running \\(pid ${first.process.pid}, ${first.url.replaceAll('.', '\\.')}\\)`));
  }
  assert.equal(first.process.exitCode, null, 'the first one still runs');
  assert.equal(await first.stop(), 0);
  assertNothingLeft(dir);
});

test('kitsune start from a folder without commands/registry.yaml exits 4 and creates nothing there', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'kitsune-elsewhere-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const result = await kitsune(['start'], { ...quiet, HTTP_PORT: '0' }, 60_000, { cwd: folder });
  assert.equal(result.code, ExitCodes.registry, result.stderr);
  assert.match(oneLine(result), new RegExp(`no command registry at ${join(folder, 'commands', 'registry.yaml')}.*set KITSUNE_REGISTRY`));
  assert.equal(existsSync(join(folder, '.kitsune')), false, 'no data directory was created');
});

test('kitsune start with an invalid registry exits 4 with every problem on one line', async (t) => {
  const dir = await embeddedDir(t);
  const registry = join(dir, 'registry.yaml');
  await writeFile(registry, 'commands:\n  create_user:\n    versions:\n      "1":\n        sql: INSERT INTO users (name) VALUES (:name)\n');
  const result = await kitsune(['start'], { ...quiet, KITSUNE_DATA_DIR: dir, HTTP_PORT: '0', KITSUNE_REGISTRY: registry });
  assert.equal(result.code, ExitCodes.registry, result.stderr);
  assert.match(oneLine(result), new RegExp(`kitsune start: command registry ${registry.replaceAll('.', '\\.')}: .*Fix the registry`));
  assert.equal(existsSync(join(dir, 'postgres')), false, 'PostgreSQL was not started for a registry that cannot load');
});

test('an invalid setting exits 3 naming the variable', async () => {
  const result = await kitsune(['api'], { ...quiet, HTTP_PORT: 'eighty' });
  assert.equal(result.code, ExitCodes.config, result.stderr);
  assert.match(oneLine(result), /kitsune api: invalid configuration: HTTP_PORT must be an integer from 0 to 65535 \(got 'eighty'\)/);
});

test('a role that needs PostgreSQL exits 3 without POSTGRES_DSN, saying what to set', async () => {
  const result = await kitsune(['db-worker'], { ...quiet, KITSUNE_METRICS_PORT: '0' });
  assert.equal(result.code, ExitCodes.config, result.stderr);
  assert.match(oneLine(result), /kitsune db-worker: set POSTGRES_DSN/);
});

test('PostgreSQL unreachable past the start-up wait exits 7 naming the server (without its password) and the setting', async () => {
  const port = await freePort(); // nothing listens there
  const result = await kitsune(['db-worker'], { ...quiet, KITSUNE_METRICS_PORT: '0', KITSUNE_STARTUP_WAIT_MS: '1000', POSTGRES_DSN: `postgres://kitsune:s3cret@127.0.0.1:${port}/kitsune` });
  assert.equal(result.code, ExitCodes.database, result.stderr);
  const line = oneLine(result);
  assert.match(line, new RegExp(`cannot reach PostgreSQL at postgres://kitsune@127\\.0\\.0\\.1:${port}/kitsune \\(POSTGRES_DSN\\).*KITSUNE_STARTUP_WAIT_MS=1000 bounds the wait.*fix POSTGRES_DSN`));
  assert.doesNotMatch(line, /s3cret/);
});

test('Kafka unreachable past the start-up wait exits 8 naming the setting, and stops the embedded PostgreSQL it had started', { timeout: 180_000 }, async (t) => {
  const dir = await embeddedDir(t);
  const port = await freePort();
  const result = await kitsune(['start'], { ...quiet, KITSUNE_DATA_DIR: dir, HTTP_PORT: '0', KAFKA_BROKERS: `127.0.0.1:${port}`, KITSUNE_STARTUP_WAIT_MS: '1000' }, 150_000);
  assert.equal(result.code, ExitCodes.broker, result.stderr);
  assert.match(oneLine(result), new RegExp(`kitsune start: cannot reach Kafka at 127\\.0\\.0\\.1:${port} \\(KAFKA_BROKERS\\).*KITSUNE_STARTUP_WAIT_MS=1000 bounds the wait`));
  assert.ok(existsSync(join(dir, 'postgres', 'PG_VERSION')), 'the embedded cluster had started');
  assertNothingLeft(dir);
});

test('a failing migration exits 9 naming the file, and stops the embedded PostgreSQL', { timeout: 180_000 }, async (t) => {
  const dir = await embeddedDir(t);
  const migrations = join(dir, 'migrations');
  await mkdir(migrations);
  await writeFile(join(migrations, '0001_broken.sql'), 'CREATE TABLE broken (;\n');
  const result = await kitsune(['start'], { ...quiet, KITSUNE_DATA_DIR: dir, HTTP_PORT: '0', KITSUNE_MIGRATIONS_DIR: migrations }, 150_000);
  assert.equal(result.code, ExitCodes.migration, result.stderr);
  assert.match(oneLine(result), /kitsune start: migration app\/0001_broken\.sql failed: .*fix the migration/);
  assertNothingLeft(dir);
});

test('an embedded PostgreSQL that cannot start exits 7 pointing at what went wrong', async (t) => {
  const dir = await embeddedDir(t);
  await writeFile(join(dir, 'postgres'), 'not a cluster'); // where the cluster must go
  const result = await kitsune(['start'], { ...quiet, KITSUNE_DATA_DIR: dir, HTTP_PORT: '0' });
  assert.equal(result.code, ExitCodes.database, result.stderr);
  assert.match(oneLine(result), /kitsune start: the embedded PostgreSQL did not start: /);
  assert.equal(existsSync(join(dir, 'embedded.json')), false, 'the data directory was released');
});

test('an unknown option exits 2; --verbose adds the stack trace that is otherwise left out', async (t) => {
  const usage = await kitsune(['start', '--colour'], quiet);
  assert.equal(usage.code, ExitCodes.usage);
  assert.match(oneLine(usage), /kitsune start: Unknown option '--colour' \(kitsune start --help\)/);

  const folder = await mkdtemp(join(tmpdir(), 'kitsune-elsewhere-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const verbose = await kitsune(['start', '--verbose'], { ...quiet, HTTP_PORT: '0' }, 60_000, { cwd: folder });
  assert.equal(verbose.code, ExitCodes.registry);
  assert.match(verbose.stderr, /no command registry at/);
  assert.match(verbose.stderr, /\n\s+at /, 'the stack trace is shown');
});
