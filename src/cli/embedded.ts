/**
 * The embedded PostgreSQL of a data directory, started by the process that claims the directory
 * (`kitsune start`, or `migrate`/`reset` when no `start` runs there). The claim is taken before the
 * server starts, so a second start is refused with the first one's PID and URL instead of tripping
 * over PostgreSQL's own lock.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { isAlive, startEmbeddedPostgres, stopByPid } from '../db/embedded.ts';
import { toError } from '../errors.ts';
import { CliError, ExitCodes } from './exit-codes.ts';
import { claimDataDir, type InstanceClaim } from './instance.ts';
import { freePort } from './ports.ts';

export interface EmbeddedInstance {
  dsn: string;
  postgresPid: number;
  claim: InstanceClaim;
  /** Stops the server and releases the data directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Where the embedded cluster lives: `<dataDir>/postgres`, or, when that is a link to the place a
 * root start moved it to (src/db/embedded/location.ts), the place it links to.
 */
export function embeddedClusterDir(dataDir: string): string {
  const requested = join(dataDir, 'postgres');
  try {
    return realpathSync(requested);
  } catch {
    return requested;
  }
}

/**
 * The PID of a live postgres server on `clusterDir`, from the cluster's postmaster.pid, checked
 * against /proc so that only a postgres on this very cluster is ever touched.
 */
function orphanedPostgres(clusterDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return /postgres$/.test(args[0] ?? '') && args.includes(clusterDir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops the PostgreSQL that a Kitsune killed with SIGKILL left running on `clusterDir`. Call only
 * while holding the data directory's claim (no live Kitsune uses that server).
 */
export async function stopOrphanedPostgres(clusterDir: string, logger: Logger): Promise<void> {
  const orphan = orphanedPostgres(clusterDir);
  if (orphan === undefined) return;
  logger.warn({ pid: orphan }, 'stopping the embedded PostgreSQL left running by a Kitsune that is gone');
  await stopByPid(orphan, 'SIGINT');
}

/** Claims `config.dataDir` for `command` and starts its PostgreSQL; exit 6 or 7 when it cannot. */
export async function startEmbeddedInstance(config: Config, command: string, logger: Logger): Promise<EmbeddedInstance> {
  const claim = await claimDataDir(config.dataDir, command);
  const started = Date.now();
  const clusterDir = embeddedClusterDir(config.dataDir);
  // We own the data directory now: a server left on the cluster would refuse the new one.
  await stopOrphanedPostgres(clusterDir, logger);
  let server;
  try {
    // The server runs in its own process group, so a Ctrl-C in the terminal reaches Kitsune alone,
    // which finishes its in-flight work on the database before it stops the server.
    server = await startEmbeddedPostgres({ dataDir: join(config.dataDir, 'postgres'), port: await freePort(), logFile: join(config.dataDir, 'postgres.log') });
  } catch (error) {
    await claim.release();
    throw new CliError(ExitCodes.database, `kitsune ${command}: the embedded PostgreSQL did not start: ${toError(error).message}`, { cause: error });
  }
  const { pid, dsn } = server;
  if (server.dataDir !== join(config.dataDir, 'postgres')) {
    logger.info({ dataDir: server.dataDir, link: join(config.dataDir, 'postgres') }, "the embedded cluster lives where the 'postgres' user can reach it");
  }
  if (server.passwordRotated) logger.warn('the embedded superuser password was the old constant one; it is now random (`kitsune db url` shows it)');
  // A process.exit() before stop() (a second Ctrl-C, a fatal error) still asks the server to shut
  // down: sending a signal is synchronous, so it works inside 'exit'. It is never left running.
  const onExit = (): void => {
    if (isAlive(pid)) process.kill(pid, 'SIGINT');
  };
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= stopByPid(pid, 'SIGINT').finally(() => {
      process.removeListener('exit', onExit);
      return claim.release();
    }));
  try {
    await claim.update({ postgresPid: pid, dsn });
  } catch (error) {
    await stop();
    throw error;
  }
  logger.info({ dataDir: server.dataDir, ms: Date.now() - started }, 'embedded PostgreSQL started');
  return { dsn, postgresPid: pid, claim, stop };
}
