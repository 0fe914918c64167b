import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/cli/ports.ts';
import { isAlive, startEmbeddedPostgres, stopByPid } from '../../src/db/embedded.ts';

test('an embedded server initialises, answers SQL, keeps its data across a restart and leaves signals to Kitsune', { timeout: 120_000 }, async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'kitsune-embedded-'));
  await chmod(parent, 0o755);
  t.after(() => rm(parent, { recursive: true, force: true }));
  const dataDir = join(parent, 'pg');
  const listenersBefore = process.listeners('SIGTERM').length;

  const first = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  t.after(() => stopByPid(first.pid));
  assert.equal(process.listeners('SIGTERM').length, listenersBefore, 'no exit hook answers SIGTERM behind our back');
  const client = new pg.Client({ connectionString: first.dsn });
  await client.connect();
  await client.query('CREATE TABLE kept (v text)');
  await client.query("INSERT INTO kept VALUES ('survives')");
  await client.end();
  await stopByPid(first.pid);
  assert.equal(isAlive(first.pid), false, 'stopped by PID');

  const second = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  t.after(() => stopByPid(second.pid));
  const again = new pg.Client({ connectionString: second.dsn });
  await again.connect();
  const { rows } = await again.query<{ v: string }>('SELECT v FROM kept');
  await again.end();
  assert.deepEqual(rows, [{ v: 'survives' }]);
});
