/**
 * The zero-configuration path: `kitsune start` with nothing set runs an embedded PostgreSQL and
 * the Postgres log, and the operator commands find that database through its embedded.json.
 */
import assert from 'node:assert/strict';
import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { ExitCodes } from '../../src/cli/exit-codes.ts';
import { dataDir, kitsune, kitsuneJson, startKitsune } from './support.ts';

test('with nothing configured, kitsune send, dlq, db url and commands check all reach the embedded instance of kitsune start', { timeout: 900_000 }, async (t) => {
  const dir = await dataDir(t);
  // PostgreSQL runs as the `postgres` user when we are root; it must be able to enter the directory.
  await chmod(dir, 0o755);
  const env = { KITSUNE_DATA_DIR: dir };
  const running = await startKitsune(t, env);
  const payload = JSON.stringify({ name: 'Emb', email: 'emb@example.com' });

  const first = await kitsune(['send', 'create_user', '--payload', payload, '--wait', '--url', running.url], env);
  assert.equal(first.code, 0, first.stderr);
  const second = await kitsune(['send', 'create_user', '--payload', payload, '--wait', '--url', running.url], env);
  assert.equal(second.code, 1);
  const { id } = JSON.parse(second.stdout) as { id: string };

  const letters = await kitsuneJson<Array<{ event_id: string; sqlstate: string }>>(['dlq', 'list'], env);
  assert.deepEqual(letters.map((l) => [l.event_id, l.sqlstate]), [[id, '23505']]);
  const url = await kitsune(['db', 'url'], env);
  assert.equal(url.code, 0, url.stderr);
  const dsn = new URL(url.stdout.trim());
  assert.equal(dsn.username, 'postgres');
  assert.notEqual(dsn.password, 'kitsune', 'a random superuser password, not the old constant');
  const client = new pg.Client({ connectionString: dsn.toString() });
  await client.connect();
  await client.end();
  assert.equal((await stat(join(dir, 'embedded.json'))).mode & 0o777, 0o600, 'the file naming the DSN is private');

  const check = await kitsune(['commands', 'check'], env);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /on the embedded PostgreSQL of kitsune start \(pid \d+\)/);

  assert.equal(await running.stop(), 0);
  const after = await kitsune(['dlq', 'list'], env);
  assert.equal(after.code, ExitCodes.database, 'a stopped instance removes its embedded.json');
  assert.match(after.stderr, /run `kitsune start` first/);
});
