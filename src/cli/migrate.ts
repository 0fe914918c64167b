import { parseArgs } from 'node:util';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { migrate, migrationFolders } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';

const help = `usage: kitsune migrate

Applies Kitsune's own migrations (schema kitsune) and then yours (KITSUNE_MIGRATIONS_DIR,
default ./migrations; files NNNN_name.sql, forward-only) to POSTGRES_DSN. Workers also do this
at start; running it first lets you see and fix a failing migration before deploying.
`;

export async function runMigrateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  loadDotEnv();
  const config = loadConfig();
  if (!config.postgresDsn) {
    process.stderr.write('kitsune migrate: set POSTGRES_DSN to the database to migrate\n');
    return 2;
  }
  const pool = createPool({ dsn: config.postgresDsn, applicationName: 'kitsune-migrate', max: 1 });
  try {
    const applied = await migrate(pool, migrationFolders(config.migrationsDir));
    process.stdout.write(applied.length === 0 ? 'up to date\n' : applied.map((name) => `applied ${name}\n`).join(''));
    return 0;
  } finally {
    await pool.end();
  }
}
