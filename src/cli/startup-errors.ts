/**
 * What a role's start-up failures become: one line that names the fix, and the exit code from the
 * table in exit-codes.ts. Classification reads error codes (errno, SQLSTATE, Kitsune's codes) along
 * the cause chain, never message text.
 */
import type { Config } from '../config/index.ts';
import { ErrorCodes, KitsuneError, toError } from '../errors.ts';
import { CliError, ExitCodes } from './exit-codes.ts';
import { StartupWaitExpired } from './startup-wait.ts';

const connectionErrnos = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** The errors along `error`'s cause chain, outermost first (bounded, in case of a cycle). */
function chain(error: unknown): unknown[] {
  const found: unknown[] = [];
  for (let current = error; current !== undefined && current !== null && found.length < 10; current = (current as { cause?: unknown }).cause) {
    found.push(current);
  }
  return found;
}

const codeOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * True when PostgreSQL may answer if asked again: the network, a server shutting down or starting
 * up (57P0x), too many connections (53). A wrong password or database name is not waited out.
 */
export function isUnreachable(error: unknown): boolean {
  return chain(error).some((e) => {
    const code = codeOf(e);
    if (code === undefined) return /^Connection terminated/.test(toError(e).message); // pg's own, no code
    return connectionErrnos.has(code) || /^(08|57P0|53)/.test(code) || code === ErrorCodes.UNAVAILABLE;
  });
}

/** True unless Kafka refused the credentials: a cluster starting up answers with many errors that pass. */
export function isBrokerUnreachable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const refused = (e: unknown): boolean => {
    if (e === null || typeof e !== 'object' || seen.has(e) || seen.size > 50) return false;
    seen.add(e);
    if (codeOf(e) === 'PLT_KFK_AUTHENTICATION') return true;
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    return refused(cause) || (Array.isArray(errors) && errors.some(refused));
  };
  return !refused(error);
}

/** The reason for a message: the last error, and how long the role waited for it when it did. */
function reasonOf(error: unknown): string {
  if (!(error instanceof StartupWaitExpired)) return toError(error).message;
  const seconds = Math.round(error.waitedMs / 1_000);
  return `${toError(error.cause).message} (still, after ${error.attempts} attempts over ${seconds} s; KITSUNE_STARTUP_WAIT_MS=${error.maxMs} bounds the wait)`;
}

/** True when PostgreSQL could not be reached or refused the session (network, shutdown, auth, no such database). */
export function isConnectionFailure(error: unknown): boolean {
  return chain(error).some((e) => {
    const code = codeOf(e);
    if (code === undefined) return /^Connection terminated/.test(toError(e).message); // pg's own, no code
    return connectionErrnos.has(code) || /^(08|57P0|53|28|3D000)/.test(code) || code === ErrorCodes.UNAVAILABLE;
  });
}

/** `postgres://user@host:port/db`: a DSN fit for a message (no password). */
export function describeDsn(dsn: string): string {
  try {
    const url = new URL(dsn);
    url.password = '';
    return url.toString();
  } catch {
    return 'POSTGRES_DSN';
  }
}

/** A URL fit for a log line or a message: no user name or password. */
export function describeUrl(value: string): string {
  try {
    const url = new URL(value);
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return value;
  }
}

/** The one line for a failure to load the command registry (exit 4). */
export function registryFailure(error: unknown, config: Config, command: string): CliError {
  const prefix = `kitsune ${command}`;
  if (codeOf(error) === 'ENOENT') {
    return new CliError(
      ExitCodes.registry,
      `${prefix}: no command registry at ${config.registryPath}; run Kitsune from the folder that holds commands/registry.yaml, or set KITSUNE_REGISTRY to your registry file`,
      { cause: error },
    );
  }
  const message = toError(error).message.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  return new CliError(
    ExitCodes.registry,
    `${prefix}: ${message.join('; ')}. Fix the registry (\`kitsune commands list\` reads it the same way) and start again`,
    { cause: error },
  );
}

/** The one line for PostgreSQL failing at start-up: unreachable (exit 7) or a migration (exit 9). */
export function databaseFailure(error: unknown, dsn: string, embedded: boolean, command: string): CliError {
  const prefix = `kitsune ${command}`;
  const reason = reasonOf(error);
  if (isConnectionFailure(error)) {
    const where = embedded ? 'the embedded PostgreSQL' : `PostgreSQL at ${describeDsn(dsn)} (POSTGRES_DSN)`;
    const fix = embedded ? 'see postgres.log in the data directory' : 'start it, or fix POSTGRES_DSN';
    return new CliError(ExitCodes.database, `${prefix}: cannot reach ${where}: ${reason}; ${fix}`, { cause: error });
  }
  if (error instanceof KitsuneError && error.code === ErrorCodes.INVALID_CONFIG) {
    return new CliError(ExitCodes.migration, `${prefix}: ${reason}; fix the migration and start again (\`kitsune migrate\` applies them alone)`, { cause: error });
  }
  return new CliError(ExitCodes.internal, `${prefix}: internal error while preparing PostgreSQL: ${reason}`, { cause: error });
}

/** The one line for Kafka unreachable at start-up (exit 8). */
export function brokerFailure(error: unknown, config: Config, command: string): CliError {
  const brokers = config.kafkaBrokers?.join(',') ?? '';
  return new CliError(
    ExitCodes.broker,
    `kitsune ${command}: cannot reach Kafka at ${brokers} (KAFKA_BROKERS): ${reasonOf(error)}; start it, or fix KAFKA_BROKERS`,
    { cause: error },
  );
}
