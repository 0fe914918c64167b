/**
 * A TCP proxy in front of PostgreSQL that can end a new connection at the one moment a pool cannot
 * guard: as it hands the connection over. pg's pool gives a new client to whoever asked for it
 * from inside the handler of the server's first ReadyForQuery; the asker runs only after the rest
 * of that socket read has been parsed. When the proxy is armed, it holds back the next
 * connection's first ReadyForQuery, has the test end that backend (pg_terminate_backend on the
 * real server), and forwards the ReadyForQuery together with the server's FATAL 57P01 in one
 * write, so the client parses both in one read.
 *
 * It reads the server's startup messages only, and only without TLS (the test server's DSN asks
 * for none).
 */
import { connect, createServer, type Socket } from 'node:net';
import { listenForDsn } from './proxy-listen.ts';

export interface HandoverProxy {
  /** The DSN, pointed at the proxy. */
  dsn: string;
  /** Ends the next connection to finish its startup as it is handed over. */
  terminateNextHandover(): void;
  /** Connections ended at their handover so far (their client was sent both messages at once). */
  readonly terminated: number;
  /** Why a termination could not be done, if one could not. */
  readonly failure: unknown;
  close(): Promise<void>;
}

const ReadyForQuery = 'Z'.charCodeAt(0);
const BackendKeyData = 'K'.charCodeAt(0);

/** `terminate(pid)` ends the backend with that pid on the real server (pg_terminate_backend). */
export async function startHandoverProxy(dsn: string, terminate: (backendPid: number) => Promise<void>): Promise<HandoverProxy> {
  const target = new URL(dsn);
  const sockets = new Set<Socket>();
  let armed = 0;
  let terminated = 0;
  let failure: unknown;

  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    let startup: Buffer = Buffer.alloc(0);
    let backendPid: number | undefined;
    let held: Buffer[] | undefined;
    const onData = (chunk: Buffer): void => {
      if (held) {
        held.push(chunk);
        return;
      }
      startup = Buffer.concat([startup, chunk]);
      let offset = 0;
      while (startup.length - offset >= 5) {
        const type = startup[offset]!;
        const end = offset + 1 + startup.readInt32BE(offset + 1);
        if (startup.length < end) break;
        if (type === BackendKeyData) backendPid = startup.readInt32BE(offset + 5);
        if (type === ReadyForQuery) {
          if (armed > 0 && backendPid !== undefined) {
            armed -= 1;
            client.write(startup.subarray(0, offset));
            held = [startup.subarray(offset)];
            // The server answers the termination with its FATAL, then closes: all of it goes on at once.
            upstream.once('end', () => {
              terminated += 1;
              client.end(Buffer.concat(held!));
            });
            terminate(backendPid).catch((error: unknown) => {
              failure = error;
              client.destroy();
            });
            return;
          }
          // Started: the rest of the connection passes through untouched.
          client.write(startup);
          upstream.off('data', onData);
          upstream.pipe(client);
          return;
        }
        offset = end;
      }
      client.write(startup.subarray(0, offset));
      startup = startup.subarray(offset);
    };
    upstream.on('data', onData);
  });
  const proxiedDsn = await listenForDsn(server, dsn);
  return {
    dsn: proxiedDsn,
    terminateNextHandover() {
      armed += 1;
    },
    get terminated() {
      return terminated;
    },
    get failure() {
      return failure;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}
