/**
 * A guard for @platformatic/kafka 1.x: asked for a connection to a broker that is not in the
 * cluster's metadata (a group coordinator whose node died and was fenced), its connection pool
 * reads `broker.host` of `undefined` and throws a TypeError. The throw happens inside heartbeat
 * timers and socket callbacks, where no caller can catch it, so it ends the process. 2.x answers
 * with a retriable network error instead; this gives 1.x's pool the same answer, marked
 * `brokerMissing` so the coordinator watch (coordinator-watch.ts) can tell why.
 */
import { NetworkError, type Broker, type CallbackWithPromise, type Connection, type ConnectionPool } from '@platformatic/kafka';

type Get = (broker: Broker | undefined, callback?: CallbackWithPromise<Connection>) => void | Promise<Connection>;

/** Makes `pool.get(undefined)` fail the request it was for, not the process. */
export function guardMissingBrokers(pool: ConnectionPool): void {
  const original = pool.get.bind(pool) as Get;
  const guarded: Get = (broker, callback) => {
    if (broker?.host !== undefined && broker.port !== undefined) return original(broker, callback);
    const error = new NetworkError('The broker is not in the cluster metadata (it left the cluster).', { brokerMissing: true, broker });
    if (!callback) return Promise.reject(error);
    callback(error, undefined as unknown as Connection);
  };
  // An own property shadows the class's method for this pool alone; the client calls `pool.get`.
  Object.defineProperty(pool, 'get', { value: guarded, configurable: true, writable: true });
}
