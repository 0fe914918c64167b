import type { Logger } from 'pino';

let received: Promise<NodeJS.Signals> | undefined;

/**
 * Starts listening for SIGTERM and SIGINT (idempotent) and resolves on the first. Roles call it
 * before they start anything, so a signal during start-up neither kills the process past its
 * embedded PostgreSQL nor gets lost: the role stops as soon as it has started. A second signal
 * exits at once, for an operator who does not want to wait for in-flight work.
 */
export function listenForShutdown(): Promise<NodeJS.Signals> {
  return (received ??= new Promise((resolveSignal) => {
    const first = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGTERM', first);
      process.removeListener('SIGINT', first);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolveSignal(signal);
    };
    process.on('SIGTERM', first);
    process.on('SIGINT', first);
  }));
}

/** Resolves on the first SIGTERM or SIGINT, and logs that in-flight work is finishing. */
export async function onShutdownSignal(logger: Logger): Promise<NodeJS.Signals> {
  const signal = await listenForShutdown();
  logger.info({ signal }, 'shutting down: finishing in-flight work');
  return signal;
}
