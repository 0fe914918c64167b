/**
 * A TCP proxy between one DB worker and PostgreSQL that makes a commit ambiguous: once armed, the
 * next connection to send COMMIT has it forwarded and is then cut. PostgreSQL reads the COMMIT
 * (the proxy half-closes towards it, so nothing already sent is lost to a reset) and commits; the
 * worker only sees its connection die and cannot know whether the transaction committed.
 *
 * node-postgres sends `COMMIT` as a simple Query; a Parse of COMMIT (extended protocol) is cut
 * after the Sync that executes it.
 */
import { connect, createServer, type Socket } from 'node:net';
import { FrontendMessageReader, isCommit, sqlOf, type FrontendMessage } from './pg-wire.ts';
import { listenForDsn } from '../support/proxy-listen.ts';

export interface PgProxy {
  /** The DSN, pointed at the proxy. */
  readonly dsn: string;
  /** Connections cut right after a forwarded COMMIT so far. */
  readonly ambiguousCommits: number;
  /** Cuts the next connection that commits; resolves once it did. */
  armCommitDrop(): Promise<void>;
  /** Sees every message any client sends (for tests that read the SQL a client sent). */
  onMessage(listener: (message: FrontendMessage) => void): void;
  close(): Promise<void>;
}

export async function startPgProxy(dsn: string): Promise<PgProxy> {
  const target = new URL(dsn);
  const sockets = new Set<Socket>();
  const listeners: Array<(message: FrontendMessage) => void> = [];
  const armed: Array<() => void> = [];
  let ambiguousCommits = 0;

  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    const reader = new FrontendMessageReader();
    let cutAtSync = false;
    sockets.add(client);
    sockets.add(upstream);
    client.on('close', () => {
      sockets.delete(client);
      upstream.end();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on('error', () => upstream.end());
    upstream.on('error', () => client.destroy());
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      const messages = reader.push(chunk);
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!;
        for (const listener of listeners) listener(message);
        const sql = sqlOf(message);
        const commits = sql !== undefined && isCommit(sql) && armed.length > 0;
        if (commits && message.type === 'P') cutAtSync = true;
        upstream.write(message.bytes);
        if ((commits && message.type === 'Q') || (cutAtSync && message.type === 'S')) {
          // The server gets everything up to here, then end of input: it commits, then sees EOF.
          ambiguousCommits++;
          upstream.end();
          client.unpipe();
          client.resetAndDestroy();
          armed.shift()?.();
          return;
        }
      }
    });
  });
  const proxiedDsn = await listenForDsn(server, dsn);
  return {
    dsn: proxiedDsn,
    get ambiguousCommits() {
      return ambiguousCommits;
    },
    armCommitDrop: () => new Promise<void>((resolveDrop) => armed.push(resolveDrop)),
    onMessage: (listener) => void listeners.push(listener),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}
