/**
 * `kitsune commands list|check`, run as the real binary against a fresh database; and how the
 * operator commands find the database: POSTGRES_DSN, or the embedded.json of a running
 * `kitsune start`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ExitCodes } from '../../src/cli/exit-codes.ts';
import { migrate, migrationFolders } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { repoRoot } from '../../scripts/services/state.ts';
import { freshDatabase } from '../support/database.ts';
import { dataDir, kitsune } from './support.ts';

async function migratedDatabase(t: Parameters<typeof freshDatabase>[0]): Promise<string> {
  const dsn = await freshDatabase(t);
  const pool = createPool({ dsn, max: 1, logger: pino({ level: 'silent' }) });
  try {
    await migrate(pool, migrationFolders(join(repoRoot, 'migrations')));
  } finally {
    await pool.end();
  }
  return dsn;
}

describe('kitsune commands', () => {
  test('list prints one line per command version, and --json the catalog of GET /commands', async (t) => {
    const env = { KITSUNE_DATA_DIR: await dataDir(t) };
    const text = await kitsune(['commands', 'list'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^create_user +v1 +key=email +returning +Creates a user\./m);
    assert.equal(text.stdout.trim().split('\n').length, 3);
    const json = await kitsune(['commands', 'list', '--json'], env);
    const catalog = JSON.parse(json.stdout) as Array<{ name: string; versions: Array<{ schema: { required: string[] } }> }>;
    assert.deepEqual(catalog.map((c) => c.name), ['create_user', 'delete_user', 'update_user']);
    assert.deepEqual(catalog[0]!.versions[0]!.schema.required, ['name', 'email']);
  });

  test('check passes when every statement prepares on the migrated database', async (t) => {
    const env = { POSTGRES_DSN: await migratedDatabase(t), KITSUNE_DATA_DIR: await dataDir(t) };
    const result = await kitsune(['commands', 'check'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ok: all 3 statements of .*registry\.yaml prepare on POSTGRES_DSN/);
  });

  test('check exits 1 and names the file, line, command and SQLSTATE of each statement that does not prepare', async (t) => {
    const dir = await dataDir(t);
    const registry = join(dir, 'registry.yaml');
    await writeFile(
      registry,
      `commands:
  rename_user:
    versions:
      1:
        entity_key: id
        schema:
          type: object
          required: [id, name]
          properties:
            id: { type: integer }
            name: { type: string }
        sql: |
          UPDATE users
             SET nmae = :name
           WHERE id = :id
  archive_user:
    versions:
      1:
        entity_key: id
        schema: { type: object, required: [id], properties: { id: { type: integer } } }
        sql: INSERT INTO archived_users (id) VALUES (:id)
`,
    );
    const env = { POSTGRES_DSN: await migratedDatabase(t), KITSUNE_DATA_DIR: dir, KITSUNE_REGISTRY: registry };
    const result = await kitsune(['commands', 'check'], env);
    assert.equal(result.code, 1);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 2, result.stdout);
    assert.match(lines[0]!, /registry\.yaml:\d+: command archive_user version 1: relation "archived_users" does not exist \(SQLSTATE 42P01\)/);
    assert.match(lines[1]!, /registry\.yaml:14: command rename_user version 1: column "nmae" of relation "users" does not exist \(SQLSTATE 42703\)/);
    assert.match(result.stderr, /2 of 2 statements do not prepare.*kitsune migrate/);
  });

  test('check against a database without the migrations reports the missing table and says to migrate', async (t) => {
    const env = { POSTGRES_DSN: await freshDatabase(t), KITSUNE_DATA_DIR: await dataDir(t) };
    const result = await kitsune(['commands', 'check'], env);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /relation "users" does not exist \(SQLSTATE 42P01\)/);
  });
});

describe('finding the database of a running Kitsune', () => {
  test('with neither POSTGRES_DSN nor a running kitsune start, the error says what to do', async (t) => {
    const dir = await dataDir(t);
    const result = await kitsune(['dlq', 'list'], { KITSUNE_DATA_DIR: dir });
    assert.equal(result.code, ExitCodes.database);
    assert.match(result.stderr, /no database to look at\. Set POSTGRES_DSN, or run `kitsune start` first/);
    assert.ok(result.stderr.includes(join(dir, 'embedded.json')));
  });

  test('the embedded.json of a running kitsune start is followed to its database', async (t) => {
    const dir = await dataDir(t);
    const dsn = await migratedDatabase(t);
    // Stand-ins for the kitsune and postgres processes: the check is that those PIDs are alive
    // (and, on Linux, that the first one's command line names kitsune).
    const stand = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'kitsune'], { stdio: 'ignore' });
    t.after(() => stand.kill());
    await writeFile(join(dir, 'embedded.json'), JSON.stringify({ dsn, postgresPid: stand.pid, kitsunePid: stand.pid }));
    const result = await kitsune(['commands', 'check'], { KITSUNE_DATA_DIR: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`prepare on the embedded PostgreSQL of kitsune start \\(pid ${stand.pid}\\)`));
  });

  test('an embedded.json left by a kitsune start that is gone is reported as stale, not followed', async (t) => {
    const dir = await dataDir(t);
    const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((resolveExit) => gone.once('exit', resolveExit));
    await writeFile(join(dir, 'embedded.json'), JSON.stringify({ dsn: 'postgres://127.0.0.1:1/x', postgresPid: gone.pid, kitsunePid: gone.pid }));
    const result = await kitsune(['dlq', 'list'], { KITSUNE_DATA_DIR: dir });
    assert.equal(result.code, ExitCodes.database);
    assert.match(result.stderr, new RegExp(`names a kitsune start \\(pid ${gone.pid}\\) that is no longer running`));
  });
});
