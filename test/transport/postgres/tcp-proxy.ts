/**
 * A TCP proxy in front of PostgreSQL that a test can cut, to stand in for a network partition or
 * a server restart without touching the shared server: cut() resets every open connection and
 * every new one until restore().
 */
import { createServer, connect, type Socket } from 'node:net';
import { listenForDsn } from '../../support/proxy-listen.ts';

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
  const proxiedDsn = await listenForDsn(server, dsn);
  return {
    dsn: proxiedDsn,
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
