import { createServer } from 'node:net';
import { toError } from '../errors.ts';
import { CliError, ExitCodes } from './exit-codes.ts';

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** An address a role listens on, with the setting that moves it, for messages. */
export interface ListenAddress {
  host: string;
  /** 0: any free port (or, for metrics, not served). */
  port: number;
  setting: string;
  command: string;
}

/** The one line for a port Kitsune cannot listen on (exit 5), naming the setting that moves it. */
export function listenFailure(error: unknown, where: ListenAddress): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const address = `${where.host}:${where.port}`;
  if (code === 'EADDRINUSE') {
    return new CliError(
      ExitCodes.addressInUse,
      `kitsune ${where.command}: port ${where.port} (${where.setting}) is already in use on ${where.host}; ` +
        `stop what listens there or set ${where.setting} to a free port`,
      { cause: error },
    );
  }
  if (code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return new CliError(
      ExitCodes.addressInUse,
      `kitsune ${where.command}: cannot listen on ${address} (${code === 'EACCES' ? 'permission denied' : 'no such address here'}); ` +
        `set ${where.setting}${where.setting === 'HTTP_PORT' ? ' or KITSUNE_HTTP_HOST' : ''} to one this machine allows`,
      { cause: error },
    );
  }
  return toError(error);
}

/**
 * Fails at once (exit 5) when `port` cannot be listened on, before anything slow starts. A port
 * taken between this check and the real listen is reported the same way by listenFailure.
 */
export async function assertPortFree(where: ListenAddress): Promise<void> {
  if (where.port === 0) return;
  await new Promise<void>((resolveCheck, reject) => {
    const server = createServer();
    server.once('error', (error) => reject(listenFailure(error, where)));
    server.listen({ port: where.port, host: where.host, exclusive: true }, () => server.close(() => resolveCheck()));
  });
}
