/**
 * What people expect of a command line: --version, shell completion, `status` that says what runs
 * where, and `reset` that starts the embedded instance afresh.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExitCodes } from '../../src/cli/exit-codes.ts';
import { repoRoot } from '../../scripts/services/state.ts';
import { dataDir, kitsune, startKitsune } from './support.ts';

test('kitsune --version prints the version in package.json', async () => {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const result = await kitsune(['--version'], {});
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `kitsune ${version}\n`);
});

test('kitsune completion bash completes commands, actions and the options each command documents', async () => {
  const result = await kitsune(['completion', 'bash'], {});
  assert.equal(result.code, 0, result.stderr);
  const complete = (line: string): string[] => {
    const words = line.split(' ');
    const script = `${result.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kitsune; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const run = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    return run.stdout.trim().split('\n').filter((word) => word !== '');
  };
  assert.deepEqual(complete('kitsune st'), ['start', 'status']);
  assert.deepEqual(complete('kitsune dlq re'), ['replay']);
  assert.deepEqual(complete('kitsune dlq replay --dr'), ['--dry-run']);
  assert.deepEqual(complete('kitsune reset --y'), ['--yes']);
  const usage = await kitsune(['completion', 'tcsh'], {});
  assert.equal(usage.code, ExitCodes.usage);
});

test('kitsune status says what runs where, and kitsune reset refuses while it runs, then deletes the data', { timeout: 180_000 }, async (t) => {
  const dir = await dataDir(t);
  await chmod(dir, 0o755);
  const env = { KITSUNE_DATA_DIR: dir };
  const idle = await kitsune(['status'], env);
  assert.equal(idle.code, ExitCodes.database, 'nothing runs: no database to look at');
  assert.match(idle.stdout, /instance\s+no kitsune start running here/);

  const running = await startKitsune(t, env, 120_000);
  const status = await kitsune(['status'], env);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`instance\\s+kitsune start running \\(pid ${running.process.pid}, ${running.url.replaceAll('.', '\\.')}\\)`));
  assert.match(status.stdout, /database\s+postgres:\/\/postgres@127\.0\.0\.1:\d+\/kitsune \(the embedded PostgreSQL of kitsune start/);
  assert.doesNotMatch(status.stdout, /postgres:\/\/postgres:/, 'no password');
  assert.match(status.stdout, /transport\s+the Postgres log, in the database/);
  assert.match(status.stdout, /lag\s+kitsune\.db-worker on db-events: 0 records behind/);

  const refused = await kitsune(['reset', '--yes'], env);
  assert.equal(refused.code, ExitCodes.alreadyRunning, refused.stdout);
  assert.ok(existsSync(join(dir, 'postgres')), 'nothing deleted while it runs');

  assert.equal(await running.stop(), 0);
  const preview = await kitsune(['reset'], env);
  assert.equal(preview.code, ExitCodes.failed);
  assert.match(preview.stdout, new RegExp(`would delete:\\n  ${join(dir, 'postgres')}\\n  ${join(dir, 'postgres.log')}\\n`));
  assert.ok(existsSync(join(dir, 'postgres')), 'a preview deletes nothing');
  const reset = await kitsune(['reset', '--yes'], env);
  assert.equal(reset.code, 0, reset.stderr);
  assert.equal(existsSync(dir), false, `the data directory is gone (left: ${existsSync(dir) ? readdirSync(dir).join(', ') : ''})`);
});
