/**
 * A role that starts while PostgreSQL or Kafka cannot be reached waits for it instead of exiting:
 * alive (the process runs and logs one line per attempt naming the system) but not ready (nothing
 * listens or consumes yet), with Kitsune's one backoff formula (src/backoff.ts). So a worker
 * restarted during an outage, or started before its database in compose or Kubernetes, comes up on
 * its own when the system answers. KITSUNE_STARTUP_WAIT_MS bounds the wait for a supervisor that
 * prefers crash-and-restart; 0 gives up at the first failure.
 */
import type { Logger } from 'pino';
import { backoffMs, wait, type BackoffPolicy } from '../backoff.ts';
import { toError } from '../errors.ts';

/** From half a second, doubling to 10 s: a system that answers again is found within ~10 s. */
export const startupBackoff: BackoffPolicy = { baseMs: 500, maxMs: 10_000 };

export interface StartupWaitOptions {
  /** KITSUNE_STARTUP_WAIT_MS: the longest the role waits, from its first failed attempt. */
  maxMs: number;
  logger: Logger;
  /** Aborted by SIGTERM/SIGINT: the wait ends with StartupWaitStopped. */
  signal: AbortSignal;
  policy?: BackoffPolicy;
}

/** The wait ran out; `cause` is the last attempt's error. */
export class StartupWaitExpired extends Error {
  readonly waitedMs: number;
  readonly attempts: number;
  readonly maxMs: number;

  constructor(system: string, info: { waitedMs: number; attempts: number; maxMs: number }, cause: unknown) {
    super(`${system} was unreachable for ${info.attempts} attempts over ${Math.round(info.waitedMs / 1000)} s (KITSUNE_STARTUP_WAIT_MS=${info.maxMs})`, { cause });
    this.name = 'StartupWaitExpired';
    this.waitedMs = info.waitedMs;
    this.attempts = info.attempts;
    this.maxMs = info.maxMs;
  }
}

/** A shutdown signal arrived while the role waited. */
export class StartupWaitStopped extends Error {
  constructor(system: string, cause: unknown) {
    super(`stopped while waiting for ${system}`, { cause });
    this.name = 'StartupWaitStopped';
  }
}

/**
 * Runs `attempt` until it resolves. An error `unreachable` says is worth waiting out is logged and
 * tried again after the backoff; any other error, the end of the wait, or the signal ends it.
 */
export async function untilReachable<T>(
  system: string,
  attempt: () => Promise<T>,
  unreachable: (error: unknown) => boolean,
  options: StartupWaitOptions,
): Promise<T> {
  const started = Date.now();
  for (let attempts = 1; ; attempts++) {
    try {
      return await attempt();
    } catch (error) {
      if (!unreachable(error)) throw error;
      const waitedMs = Date.now() - started;
      const left = options.maxMs - waitedMs;
      if (left <= 0) throw new StartupWaitExpired(system, { waitedMs, attempts, maxMs: options.maxMs }, error);
      const delayMs = Math.min(backoffMs(attempts, options.policy ?? startupBackoff), left);
      options.logger.warn(
        { system, attempt: attempts, delayMs, waitedMs, maxWaitMs: options.maxMs, err: error },
        `${system} is unreachable (${toError(error).message}); not ready, trying again in ${delayMs} ms (KITSUNE_STARTUP_WAIT_MS bounds the wait)`,
      );
      await wait(delayMs, options.signal);
      if (options.signal.aborted) throw new StartupWaitStopped(system, error);
    }
  }
}
