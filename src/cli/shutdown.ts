import type { Logger } from 'pino';

/**
 * Resolves on the first SIGTERM or SIGINT. A second signal exits at once, for an operator who
 * does not want to wait for in-flight work.
 */
export function onShutdownSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    const first = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down: finishing in-flight work');
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolveSignal(signal);
    };
    process.once('SIGTERM', first);
    process.once('SIGINT', first);
  });
}
