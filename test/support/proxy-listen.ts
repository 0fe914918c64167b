/**
 * The listening half every test proxy in front of PostgreSQL shares: a free loopback port, and
 * the DSN that reaches the server through it.
 */
import type { Server } from 'node:net';

/** Listens on a free port of 127.0.0.1 and returns `dsn` pointed at it. */
export async function listenForDsn(server: Server, dsn: string): Promise<string> {
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const proxied = new URL(dsn);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(address.port);
  return proxied.href;
}
