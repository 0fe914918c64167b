/**
 * The PostgreSQL pool. A client whose connection drops (server restart, failover,
 * pg_terminate_backend) emits 'error'; an 'error' event nobody listens to ends the process, so
 * every client the pool opens is listened to from birth (hearClientErrors). An idle client's
 * failure is logged and the pool replaces it on next use; a checked-out client's surfaces on its
 * holder's next query, which fails as a connection failure.
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

type ConnectionError = Error & { code?: string };

/** Logged as code and message: pg hangs the whole client (its socket, its parser) on the error. */
const described = (error: ConnectionError): Record<string, unknown> => ({ type: error.name, code: error.code, message: error.message });

export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.dsn,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'kitsune',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', (error: ConnectionError) => options.logger?.warn({ err: described(error) }, 'idle PostgreSQL connection failed; it will be replaced'));
  hearClientErrors(pool, (error) => options.logger?.warn({ err: described(error) }, 'PostgreSQL connection in use failed; its next query fails and it will be replaced'));
  return pool;
}

/**
 * Listens for 'error' on every client `pool` opens, for the client's whole life; `inUse` hears
 * those of checked-out clients (idle ones reach the pool's own 'error' event).
 *
 * pg-pool listens on a client only while it is idle, and a holder's own listener comes too late
 * for a new client: the pool hands it over from inside the handler of the server's first
 * ReadyForQuery, and `await pool.connect()` resumes only after the rest of that socket read has
 * been parsed. A FATAL in the same read (the server stopping, or pg_terminate_backend, as the
 * connection starts) was emitted with no listener, and ended the process. The pool emits
 * 'connect' before it hands a new client over, so a listener added there is always in time.
 */
export function hearClientErrors(pool: pg.Pool, inUse: (error: ConnectionError) => void = () => undefined): void {
  const checkedOut = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => checkedOut.add(client));
  pool.on('release', (_error, client) => checkedOut.delete(client));
  pool.on('connect', (client) => {
    client.on('error', (error: ConnectionError) => {
      if (checkedOut.has(client)) inUse(error);
    });
  });
}
