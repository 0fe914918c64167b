/**
 * A guard for @platformatic/kafka 1.x: a request any broker can answer (metadata, finding a
 * coordinator) goes to the first broker of the bootstrap list that gives a connection, always in
 * the configured order. A broker that stopped answering but still holds its sockets (a process
 * paused or stalled, a host frozen) gives one at once. So every such request times out on that
 * broker, is retried there, and the client never learns that the cluster moved its partitions to
 * the others: with the first bootstrap broker paused, producers and consumers stall for as long
 * as the pause lasts, although the cluster serves every partition.
 *
 * Each connection's requests are watched (an own property shadows `send` on that instance): a
 * request that timed out marks its broker, one that was answered clears the mark. The pool then
 * tries brokers in the configured order with the marked ones last, the longest-marked first among
 * them. The marks are the process's: a broker that does not answer one client does not answer
 * the others.
 */
import { TimeoutError, type Broker, type CallbackWithPromise, type Connection, type ConnectionPool } from '@platformatic/kafka';

/** `host:port` → when a request there last timed out (ms). */
const timedOut = new Map<string, number>();

const addressOf = (broker: Broker): string => `${broker.host}:${broker.port}`;

/** `brokers` with those whose last request timed out moved to the end, oldest timeout first. */
export function answeringFirst(brokers: readonly Broker[]): Broker[] {
  if (timedOut.size === 0) return [...brokers];
  const markOf = (broker: Broker): number => timedOut.get(addressOf(broker)) ?? Number.NEGATIVE_INFINITY;
  // Array.prototype.sort is stable: unmarked brokers keep the configured order.
  return [...brokers].sort((a, b) => markOf(a) - markOf(b));
}

type Send = (...args: unknown[]) => unknown;
type Reply = (error: unknown, payload: unknown) => void;

function watch(address: string, connection: Connection): void {
  const send = connection.send.bind(connection) as Send;
  const watched: Send = (...args) => {
    // The last argument is the response callback (Connection.send's seventh parameter).
    const reply = args.at(-1) as Reply;
    args[args.length - 1] = ((error, payload) => {
      if (error instanceof TimeoutError) timedOut.set(address, Date.now());
      else if (!error) timedOut.delete(address);
      reply(error, payload);
    }) satisfies Reply;
    return send(...args);
  };
  Object.defineProperty(connection, 'send', { value: watched, configurable: true, writable: true });
}

type GetFirstAvailable = (brokers: Broker[], callback?: CallbackWithPromise<Connection>) => void | Promise<Connection>;

/** Makes `pool` try brokers that answer before those that let requests time out. */
export function preferAnsweringBrokers(pool: ConnectionPool): void {
  pool.on('connect', ({ broker, connection }) => watch(addressOf(broker), connection));
  const original = pool.getFirstAvailable.bind(pool) as GetFirstAvailable;
  const ordered: GetFirstAvailable = (brokers, callback) => original(answeringFirst(brokers), callback);
  Object.defineProperty(pool, 'getFirstAvailable', { value: ordered, configurable: true, writable: true });
}

/** `client`, its pool guarded; call it on a client made just now, before its first request. */
export function answering<T extends { connections: ConnectionPool }>(client: T): T {
  preferAnsweringBrokers(client.connections);
  return client;
}
