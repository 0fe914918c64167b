/**
 * How the operator commands (`commands check`, `dlq ...`) find what a running Kitsune uses: the
 * database from POSTGRES_DSN, else the embedded server of a running `kitsune start`, which
 * announces itself in `<KITSUNE_DATA_DIR>/embedded.json`; the transport from KAFKA_BROKERS, else
 * the Postgres log in that database. They never start a server or apply migrations: they look at
 * the instance as it is.
 */
import type pg from 'pg';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { isAlive } from '../db/embedded.ts';
import { createPool } from '../db/pool.ts';
import { createKafkaTransport } from '../transport/kafka/index.ts';
import { createPostgresTransport } from '../transport/postgres/index.ts';
import type { Transport } from '../transport/types.ts';
import { startEmbeddedInstance } from './embedded.ts';
import { CliError, ExitCodes } from './exit-codes.ts';
import { instanceFilePath, isKitsuneAlive, readInstance } from './instance.ts';

export interface FoundDatabase {
  dsn: string;
  /** For messages: "POSTGRES_DSN" or "the embedded PostgreSQL of kitsune start (pid 123)". */
  from: string;
  /** Set when this command started the embedded server itself: stops it and frees the data directory. */
  stop?: () => Promise<void>;
}

/** The embedded.json that `kitsune start` keeps while it runs (see cli/instance.ts). */
export const embeddedStatePath = (config: Config): string => instanceFilePath(config.dataDir);

/**
 * The database a command works on, found the same way by every command: POSTGRES_DSN; else the
 * embedded server of a live `kitsune start` on KITSUNE_DATA_DIR; else, when `options.startWith`
 * is given (`migrate`, `reset`), the embedded server started for the command and stopped by
 * `stop()`. Exit 7 when there is none.
 */
export async function findDatabase(config: Config, command: string, options: { startWith?: Logger } = {}): Promise<FoundDatabase> {
  if (config.postgresDsn) return { dsn: config.postgresDsn, from: 'POSTGRES_DSN' };
  const path = instanceFilePath(config.dataDir);
  const state = await readInstance(config.dataDir);
  if (state && isKitsuneAlive(state.kitsunePid)) {
    if (state.dsn === undefined || state.postgresPid === undefined || !isAlive(state.postgresPid)) {
      throw new CliError(ExitCodes.database, `${command}: kitsune ${state.command} (pid ${state.kitsunePid}) is still starting its PostgreSQL; try again in a moment`);
    }
    return { dsn: state.dsn, from: `the embedded PostgreSQL of kitsune ${state.command} (pid ${state.kitsunePid})` };
  }
  if (options.startWith) {
    const name = command.replace(/^kitsune /, '');
    const instance = await startEmbeddedInstance(config, name, options.startWith);
    return { dsn: instance.dsn, from: `the embedded PostgreSQL in ${config.dataDir}`, stop: () => instance.stop() };
  }
  // A crashed `kitsune start` leaves the file behind; its DSN points at a port nobody serves.
  throw new CliError(
    ExitCodes.database,
    state
      ? `${command}: ${path} names a kitsune ${state.command} (pid ${state.kitsunePid}) that is no longer running. Run \`kitsune start\` again (its data is kept), or set POSTGRES_DSN`
      : `${command}: no database to look at. Set POSTGRES_DSN, or run \`kitsune start\` first ` +
          `(its embedded PostgreSQL is found through ${path}; set KITSUNE_DATA_DIR if it runs with another data directory)`,
  );
}

/** A logger for operator commands: stdout is for their output, so logs go to stderr, warnings up. */
export function cliLogger(config: Config, role: string): Logger {
  const level = config.logLevel === 'debug' || config.logLevel === 'trace' ? config.logLevel : 'warn';
  return pino({ level, base: { service: config.serviceName, role } }, pino.destination(2));
}

export interface CliDatabase {
  pool: pg.Pool;
  dsn: string;
  from: string;
  close(): Promise<void>;
}

/** A small pool on the instance's database; fails with what to do when it cannot connect. */
export async function openCliDatabase(config: Config, command: string, logger: Logger): Promise<CliDatabase> {
  const found = await findDatabase(config, command);
  const pool = createPool({ dsn: found.dsn, max: 4, applicationName: `kitsune-${command.replaceAll(' ', '-')}`, logger });
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end();
    throw new CliError(ExitCodes.database, `${command}: cannot connect to PostgreSQL (${found.from}): ${(error as Error).message}`, { cause: error });
  }
  return { pool, dsn: found.dsn, from: found.from, close: () => pool.end() };
}

/**
 * The instance's transport, for reading and publishing only: Kafka when KAFKA_BROKERS is set,
 * else the Postgres log in `pool`. Retention stays with the long-running processes.
 */
export function openCliTransport(config: Config, pool: pg.Pool, logger: Logger): Transport {
  if (config.kafkaBrokers) {
    return createKafkaTransport({
      brokers: config.kafkaBrokers,
      clientId: `${config.serviceName}-cli`,
      onError: (error) => logger.warn({ err: error }, 'Kafka client error; retrying'),
    });
  }
  return createPostgresTransport({ pool, retention: false, onError: (error, source) => logger.warn({ err: error, source }, 'Postgres log error') });
}
