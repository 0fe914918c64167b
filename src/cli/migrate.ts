import { parseArgs } from 'node:util';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { migrate, migrationFolders } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { cliLogger, findDatabase } from './context.ts';
import { databaseFailure } from './startup-errors.ts';

export const help = `usage: kitsune migrate

Applies Kitsune's own migrations (schema kitsune) and then yours (KITSUNE_MIGRATIONS_DIR,
default ./migrations; files NNNN_name.sql, forward-only). Roles also do this at start; running it
first lets you see and fix a failing migration before deploying.

The database: POSTGRES_DSN; else the embedded PostgreSQL of a running \`kitsune start\`; else the
embedded one in KITSUNE_DATA_DIR (default ./.kitsune), started for the migration and stopped after.
`;

export async function runMigrateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  loadDotEnv();
  const config = loadConfig();
  const logger = cliLogger(config, 'migrate');
  const found = await findDatabase(config, 'kitsune migrate', { startWith: logger });
  try {
    const pool = createPool({ dsn: found.dsn, applicationName: 'kitsune-migrate', max: 1, logger });
    try {
      const applied = await migrate(pool, migrationFolders(config.migrationsDir)).catch((error: unknown) => {
        throw databaseFailure(error, found.dsn, found.from !== 'POSTGRES_DSN', 'migrate');
      });
      process.stdout.write(applied.map((name) => `applied ${name}\n`).join('') + `${applied.length === 0 ? 'up to date' : 'done'}: ${found.from}\n`);
      return 0;
    } finally {
      await pool.end();
    }
  } finally {
    await found.stop?.();
  }
}
