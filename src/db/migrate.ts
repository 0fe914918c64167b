/**
 * Forward-only SQL migrations: Kitsune's own (src/db/migrations, schema `kitsune`) first, then
 * the user's folder (KITSUNE_MIGRATIONS_DIR). Files are `NNNN_name.sql`, applied in order, each
 * in its own transaction, recorded with a checksum. Editing a file that was already applied is an
 * error, not a silent no-op. A session advisory lock lets many workers start at once safely.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { ErrorCodes, KitsuneError } from '../errors.ts';

export const kitsuneMigrationsDir = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Kitsune's own schema, then the application's migrations in `appDir`: the order every runner applies them in. */
export function migrationFolders(appDir: string): Array<{ dir: string; scope: string }> {
  return [
    { dir: kitsuneMigrationsDir, scope: 'kitsune' },
    { dir: appDir, scope: 'app' },
  ];
}

/** Arbitrary constant: the advisory lock key that serialises migration runs. */
const migrationLockKey = 0x6b697473; // 'kits'
const fileName = /^(\d{4})_[a-z0-9_]+\.sql$/;

export interface Migration {
  scope: string;
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export async function readMigrations(dir: string, scope: string): Promise<Migration[]> {
  if (!existsSync(dir)) return [];
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const seen = new Set<string>();
  const migrations: Migration[] = [];
  for (const name of names) {
    const match = fileName.exec(name);
    if (!match) throw new KitsuneError(ErrorCodes.INVALID_CONFIG, `migration ${join(dir, name)}: name it NNNN_description.sql`, { retryable: false });
    const version = match[1]!;
    if (seen.has(version)) throw new KitsuneError(ErrorCodes.INVALID_CONFIG, `migration version ${version} appears twice in ${dir}`, { retryable: false });
    seen.add(version);
    const sql = await readFile(join(dir, name), 'utf8');
    migrations.push({ scope, version, name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations;
}

/** Applies what is missing; returns the names applied. Throws on an edited applied migration. */
export async function migrate(pool: pg.Pool, folders: ReadonlyArray<{ dir: string; scope: string }>): Promise<string[]> {
  // A dropped session surfaces on the next query; its 'error' is heard by the pool (pool.ts).
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [migrationLockKey]);
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS kitsune;
      CREATE TABLE IF NOT EXISTS kitsune.schema_migrations (
        scope text NOT NULL,
        version text NOT NULL,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, version)
      )`);
    for (const { dir, scope } of folders) {
      const { rows } = await client.query<{ version: string; name: string; checksum: string }>(
        'SELECT version, name, checksum FROM kitsune.schema_migrations WHERE scope = $1',
        [scope],
      );
      const done = new Map(rows.map((row) => [row.version, row]));
      for (const migration of await readMigrations(dir, scope)) {
        const previous = done.get(migration.version);
        if (previous) {
          if (previous.checksum !== migration.checksum) {
            throw new KitsuneError(
              ErrorCodes.INVALID_CONFIG,
              `migration ${scope}/${migration.name} changed after it was applied (as ${previous.name}); add a new migration instead of editing it`,
              { retryable: false },
            );
          }
          continue;
        }
        try {
          await client.query('BEGIN');
          await client.query(migration.sql);
          await client.query('INSERT INTO kitsune.schema_migrations (scope, version, name, checksum) VALUES ($1, $2, $3, $4)', [
            scope,
            migration.version,
            migration.name,
            migration.checksum,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new KitsuneError(ErrorCodes.INVALID_CONFIG, `migration ${scope}/${migration.name} failed: ${(error as Error).message}`, { retryable: false, cause: error });
        }
        applied.push(`${scope}/${migration.name}`);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [migrationLockKey]).catch(() => undefined);
    client.release();
  }
  return applied;
}
