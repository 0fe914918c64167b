/**
 * The real binary with KITSUNE_SCHEMA_REGISTRY_URL: `kitsune commands check` registers like a
 * booting API and reports refusals; `kitsune api` refuses to boot on an incompatible version.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { freePort } from '../../src/cli/ports.ts';
import { migrate, migrationFolders } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { repoRoot } from '../../scripts/services/state.ts';
import { dataDir, kitsune } from '../cli/support.ts';
import { freshDatabase } from '../support/database.ts';
import { schemaRegistrySkip, schemaRegistryUrl } from '../support/services.ts';
import { freshTopic } from './support.ts';

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

/** create_user v1 as shipped, plus a v2 that makes `team` required: not BACKWARD compatible. */
const breakingRegistry = (compatibility: string): string => `commands:
  create_user:
    compatibility: ${compatibility}
    versions:
      1:
        entity_key: email
        schema:
          type: object
          additionalProperties: false
          required: [name, email]
          properties:
            name: { type: string, minLength: 1, maxLength: 200 }
            email: { type: string, format: email, maxLength: 254 }
        sql: INSERT INTO users (name, email) VALUES (:name, :email)
      2:
        entity_key: email
        schema:
          type: object
          additionalProperties: false
          required: [name, email, team]
          properties:
            name: { type: string, minLength: 1, maxLength: 200 }
            email: { type: string, format: email, maxLength: 254 }
            team: { type: string }
        sql: INSERT INTO users (name, email) VALUES (:name, :email)
`;

describe('kitsune with a schema registry', { skip: schemaRegistrySkip() }, () => {
  test('commands check registers every command version, then finds them all registered', async (t) => {
    const topic = freshTopic();
    const env = { POSTGRES_DSN: await migratedDatabase(t), KITSUNE_DATA_DIR: await dataDir(t), KITSUNE_SCHEMA_REGISTRY_URL: schemaRegistryUrl(), KITSUNE_TOPIC_DB_EVENTS: topic };
    const first = await kitsune(['commands', 'check'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^ok: all 3 command versions are registered in http:\S+ \(3 subjects: 3 versions new, 0 already there\)$/m);
    assert.match(first.stdout, /^ok: all 3 statements of .*registry\.yaml prepare on POSTGRES_DSN/m);
    const second = await kitsune(['commands', 'check'], env);
    assert.match(second.stdout, /\(3 subjects: 0 versions new, 3 already there\)/);
  });

  test('commands check exits 1 with the registry\'s reason for an incompatible version, and passes under NONE', async (t) => {
    const dir = await dataDir(t);
    const registryFile = join(dir, 'registry.yaml');
    const env = {
      POSTGRES_DSN: await migratedDatabase(t),
      KITSUNE_DATA_DIR: dir,
      KITSUNE_REGISTRY: registryFile,
      KITSUNE_SCHEMA_REGISTRY_URL: schemaRegistryUrl(),
      KITSUNE_TOPIC_DB_EVENTS: freshTopic(),
    };
    await writeFile(registryFile, breakingRegistry('BACKWARD'));
    const refused = await kitsune(['commands', 'check'], env);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stdout, /registry\.yaml: command create_user version 2: the schema registry refused it as incompatible with \S+-create_user under BACKWARD: .*required/i);
    assert.match(refused.stderr, /refused 1 command version/);

    await writeFile(registryFile, breakingRegistry('NONE'));
    const relaxed = await kitsune(['commands', 'check'], env);
    assert.equal(relaxed.code, 0, relaxed.stdout + relaxed.stderr);
    assert.match(relaxed.stdout, /\(1 subjects: 1 versions new, 1 already there\)/);
  });

  test('kitsune api refuses to boot on an incompatible version, with the registry\'s reason', async (t) => {
    const dir = await dataDir(t);
    const registryFile = join(dir, 'registry.yaml');
    const topic = freshTopic();
    const env = {
      POSTGRES_DSN: await migratedDatabase(t),
      KITSUNE_DATA_DIR: dir,
      KITSUNE_REGISTRY: registryFile,
      KITSUNE_SCHEMA_REGISTRY_URL: schemaRegistryUrl(),
      KITSUNE_TOPIC_DB_EVENTS: topic,
      HTTP_PORT: String(await freePort()),
    };
    // v1 alone is registered first; then v2 arrives and breaks it.
    await writeFile(registryFile, breakingRegistry('BACKWARD').replace(/ {6}2:[\s\S]*$/, ''));
    assert.equal((await kitsune(['commands', 'check'], env)).code, 0);
    await writeFile(registryFile, breakingRegistry('BACKWARD'));
    const boot = await kitsune(['api'], env);
    assert.equal(boot.code, 4, 'the API must not boot, and exits with the registry code');
    assert.match(boot.stdout + boot.stderr, new RegExp(`command create_user version 2: the schema registry refused it as incompatible with ${topic}-create_user under BACKWARD`));
  });
});
