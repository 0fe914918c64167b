/**
 * The PostgreSQL pool. An idle client whose connection drops (server restart, failover) emits
 * 'error' on the pool; unhandled, that event would crash the process, so it is logged instead
 * and the pool replaces the client on next use.
 */
import pg from 'pg';
import type { Logger } from 'pino';

export interface PoolOptions {
  dsn: string;
  /** (Default: 10) */
  max?: number;
  /** Identifies the role in pg_stat_activity. (Default: 'kitsune') */
  applicationName?: string;
  logger?: Logger;
}

export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.dsn,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'kitsune',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // Logged as code and message: pg hangs the whole client (its socket, its parser) on the error.
  pool.on('error', (error: Error & { code?: string }) =>
    options.logger?.warn({ err: { type: error.name, code: error.code, message: error.message } }, 'idle PostgreSQL connection failed; it will be replaced'),
  );
  return pool;
}
