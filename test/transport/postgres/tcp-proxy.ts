/**
 * A TCP proxy in front of PostgreSQL that a test can cut, to stand in for a network partition or
 * a server restart without touching the shared server: cut() resets every open connection and
 * every new one until restore().
 */
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  /** The DSN, pointed at the proxy. */
  dsn: string;
  cut(): void;
  restore(): void;
  /** New connections go to this server from now on (a restarted server on another port). */
  retarget(dsn: string): void;
  close(): Promise<void>;
}

export async function startTcpProxy(dsn: string): Promise<TcpProxy> {
  let target = new URL(dsn);
  const sockets = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const proxied = new URL(dsn);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(address.port);
  return {
    dsn: proxied.href,
    cut() {
      cut = true;
      for (const socket of sockets) socket.resetAndDestroy();
    },
    restore() {
      cut = false;
    },
    retarget(next) {
      target = new URL(next);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}
