/**
 * `kitsune reset`: deletes the embedded instance's data (its PostgreSQL cluster, wherever it
 * lives, and the data directory), so the tour starts again from id 1. A command rather than
 * "rm -rf .kitsune" because, as root, the cluster may live under /var/lib/kitsune (reached through
 * the link .kitsune/postgres, src/db/embedded/location.ts) and would stay there until a later start
 * sweeps it; and because it must refuse while Kitsune runs.
 */
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { cliLogger } from './context.ts';
import { embeddedClusterDir, stopOrphanedPostgres } from './embedded.ts';
import { ExitCodes } from './exit-codes.ts';
import { claimDataDir } from './instance.ts';
import { relocationRoot } from '../db/embedded/location.ts';

export const help = `usage: kitsune reset [--yes]

Deletes the embedded instance's data: its PostgreSQL cluster (every event, result, table row and
log line in it) and its log, in the data directory (KITSUNE_DATA_DIR, default ./.kitsune), and the
directory itself when nothing else is left in it (\`npm run services\` keeps its own data in
.kitsune/services, which reset leaves alone). The next \`kitsune start\` begins afresh. Refused while a Kitsune runs on the data directory.
Without --yes it only prints what it would delete, and exits 1.
POSTGRES_DSN, Kafka and Loki are never touched: reset knows only the embedded data.
`;

const isLink = (path: string): boolean => {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
};

/**
 * Server binaries Kitsune copied beside a cluster it could not run from node_modules (as root, from
 * a private checkout; see src/db/embedded/binaries.ts): `pg-<version>` folders it marked complete.
 */
function placedBinaries(dataDir: string): string[] {
  if (!existsSync(dataDir)) return [];
  return readdirSync(dataDir)
    .filter((name) => name.startsWith('pg-') && existsSync(join(dataDir, name, '.complete')))
    .map((name) => join(dataDir, name));
}

export async function runResetCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, yes: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(help);
    return ExitCodes.ok;
  }
  loadDotEnv();
  const config = loadConfig();
  const cluster = embeddedClusterDir(config.dataDir);
  // The embedded instance's files only: `npm run services` keeps its Kafka and PostgreSQL in
  // .kitsune/services, which may be running and are not this instance's to delete.
  const link = join(config.dataDir, 'postgres');
  // A cluster moved under /var/lib/kitsune (as root) goes with its home there (binaries, origin);
  // one the operator linked elsewhere goes alone; then the link itself.
  const relocatedHome = dirname(cluster).startsWith(`${relocationRoot}/`) ? dirname(cluster) : undefined;
  const targets = [
    ...(cluster === link ? [] : [relocatedHome ?? cluster]),
    link,
    join(config.dataDir, 'postgres.log'),
    ...placedBinaries(config.dataDir),
  ].filter((path) => existsSync(path) || isLink(path));
  if (targets.length === 0) {
    process.stdout.write(`nothing to reset: no embedded data in ${config.dataDir}\n`);
    return ExitCodes.ok;
  }
  // Held while deleting, so no `kitsune start` can begin on a half-deleted directory.
  const claim = await claimDataDir(config.dataDir, 'reset');
  try {
    if (!values.yes) {
      process.stdout.write(`would delete:\n${targets.map((path) => `  ${path}\n`).join('')}Run \`kitsune reset --yes\` to delete them.\n`);
      return ExitCodes.failed;
    }
    await stopOrphanedPostgres(cluster, cliLogger(config, 'reset'));
    for (const path of targets) await rm(path, { recursive: true, force: true });
    await claim.release();
    // The data directory itself goes too when nothing else is left in it.
    if ((await readdir(config.dataDir)).length === 0) await rm(config.dataDir, { recursive: true, force: true });
    process.stdout.write(`deleted:\n${targets.map((path) => `  ${path}\n`).join('')}${config.postgresDsn ? 'POSTGRES_DSN is set: that database was not touched.\n' : ''}`);
    return ExitCodes.ok;
  } finally {
    // Its file went with the directory; release() only removes a file that is still ours.
    await claim.release();
  }
}

