/**
 * Saturation load with autocannon: as many requests as `connections` keep in flight (a closed
 * loop), requests/s, status counts, and latency percentiles from every response time
 * (autocannon's own summary has no p95).
 *
 * Not for fixed rates: autocannon's `overallRate` lets each connection send its whole per-second
 * quota back to back at the start of every second, so the latency it reports is that of a burst
 * at full concurrency. Fixed rates use open-loop.ts.
 */
import autocannon from 'autocannon';
import { latencyOf, type Latency } from './stats.ts';

export interface LoadOptions {
  url: string;
  path: string;
  /** Builds each request's body; called once per request. */
  body: () => string;
  headers?: Record<string, string>;
  durationSeconds: number;
  connections: number;
  /** A request unanswered this long counts as an error (Default: 10 s, autocannon's). */
  timeoutSeconds?: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  statuses: Record<string, number>;
  latency: Latency;
  /** Connection errors and timeouts. */
  errors: number;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const times: number[] = [];
  const statuses: Record<string, number> = {};
  let finish: (result: autocannon.Result) => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolveRun, rejectRun) => ((finish = resolveRun), (fail = rejectRun)));
  const instance = autocannon(
    {
      url: options.url,
      connections: options.connections,
      duration: options.durationSeconds,
      ...(options.timeoutSeconds === undefined ? {} : { timeout: options.timeoutSeconds }),
      requests: [
        {
          method: 'POST',
          path: options.path,
          headers: { 'content-type': 'application/json', ...options.headers },
          setupRequest: (request) => ({ ...request, body: options.body() }),
        },
      ],
    },
    (error, result) => (error ? fail(error) : finish(result)),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    times.push(responseTime);
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
  });
  const result = await done;
  return {
    requestsPerSecond: Math.round(result.requests.total / (result.duration || options.durationSeconds)),
    statuses,
    latency: latencyOf(times),
    errors: result.errors + result.timeouts,
  };
}
