import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/cli/ports.ts';
import { isAlive, startEmbeddedPostgres, stopByPid } from '../../src/db/embedded.ts';
import { passwordFile, storedPassword } from '../../src/db/embedded/superuser.ts';

/** Whether PostgreSQL at `dsn` takes the password `kitsune` for its superuser. */
async function acceptsOldPassword(dsn: string): Promise<boolean> {
  const url = new URL(dsn);
  url.password = 'kitsune';
  const client = new pg.Client({ connectionString: url.toString() });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch (error) {
    assert.equal((error as { code?: string }).code, '28P01', 'refused for its password, not for anything else');
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function query<T extends pg.QueryResultRow>(dsn: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

test('an embedded server initialises, answers SQL, keeps its data across a restart and leaves signals to Kitsune', { timeout: 120_000 }, async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'kitsune-embedded-'));
  await chmod(parent, 0o755);
  t.after(() => rm(parent, { recursive: true, force: true }));
  const dataDir = join(parent, 'pg');
  const listenersBefore = process.listeners('SIGTERM').length;

  const first = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  t.after(() => stopByPid(first.pid));
  assert.equal(process.listeners('SIGTERM').length, listenersBefore, 'no exit hook answers SIGTERM behind our back');
  await query(first.dsn, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')");
  await stopByPid(first.pid);
  assert.equal(isAlive(first.pid), false, 'stopped by PID');

  const second = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  t.after(() => stopByPid(second.pid));
  assert.deepEqual(await query(second.dsn, 'SELECT v FROM kept'), [{ v: 'survives' }]);
  assert.equal(second.dsn, first.dsn.replace(`:${first.port}/`, `:${second.port}/`), 'the same password after a restart');
});

test('the superuser password is random, kept in the cluster with mode 600, and the old constant one is refused', { timeout: 120_000 }, async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'kitsune-embedded-'));
  await chmod(parent, 0o755);
  t.after(() => rm(parent, { recursive: true, force: true }));
  const server = await startEmbeddedPostgres({ dataDir: join(parent, 'pg'), port: await freePort() });
  t.after(() => stopByPid(server.pid));

  const password = await storedPassword(server.dataDir);
  assert.ok(password !== undefined && password.length >= 32, 'a long random password is stored');
  assert.equal(new URL(server.dsn).password, password);
  assert.equal((await stat(passwordFile(server.dataDir))).mode & 0o777, 0o600);
  assert.equal(await acceptsOldPassword(server.dsn), false);
  assert.equal(server.passwordRotated, false);
});

test('a cluster that still has the old constant password gets a random one at its next start', { timeout: 120_000 }, async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'kitsune-embedded-'));
  await chmod(parent, 0o755);
  t.after(() => rm(parent, { recursive: true, force: true }));
  const dataDir = join(parent, 'pg');
  // Make the cluster an earlier Kitsune left: password `kitsune`, no password file.
  const old = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  t.after(() => stopByPid(old.pid));
  await query(old.dsn, "ALTER ROLE postgres PASSWORD 'kitsune'");
  await rm(passwordFile(old.dataDir));
  await stopByPid(old.pid);

  const server = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  t.after(() => stopByPid(server.pid));
  assert.equal(server.passwordRotated, true);
  assert.equal(new URL(server.dsn).password, await storedPassword(server.dataDir));
  assert.deepEqual(await query(server.dsn, 'SELECT 1 AS one'), [{ one: 1 }]);
  assert.equal(await acceptsOldPassword(server.dsn), false);
});
