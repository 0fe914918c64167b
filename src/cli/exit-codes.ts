/**
 * The `kitsune` command's exit codes: one table for every command and role, documented in
 * docs/cli.md. A supervisor or a script can tell "fix the configuration" from "try again when the
 * database is back" without reading the message.
 */
export const ExitCodes = {
  /** Done; or a role stopped cleanly after SIGTERM/SIGINT. */
  ok: 0,
  /** The command ran and failed or refused (a dead letter failed again, a statement does not prepare, ...). */
  failed: 1,
  /** Bad usage: unknown command, action or option, missing argument. */
  usage: 2,
  /** The configuration (environment, .env) is invalid. */
  config: 3,
  /** The command registry is missing or invalid. */
  registry: 4,
  /** A port Kitsune must listen on (HTTP_PORT, KITSUNE_METRICS_PORT) is taken or not allowed. */
  addressInUse: 5,
  /** Another Kitsune already runs on this data directory. */
  alreadyRunning: 6,
  /** PostgreSQL cannot be reached (after the start-up wait), or the embedded one cannot start. */
  database: 7,
  /** Kafka cannot be reached (after the start-up wait). */
  broker: 8,
  /** A migration failed, or an applied migration was edited. */
  migration: 9,
  /** A bug in Kitsune: the message says so; --verbose shows the stack trace. */
  internal: 70,
} as const satisfies Record<string, number>;

export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

/**
 * An error the CLI reports as one line and ends with `exitCode`. The message names the fix; the
 * cause (kept for --verbose) says what happened underneath.
 */
export class CliError extends Error {
  readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Bad usage (exit 2): the message says what to type instead. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(ExitCodes.usage, message);
    this.name = 'UsageError';
  }
}
