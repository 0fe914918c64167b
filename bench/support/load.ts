/**
 * One load run with autocannon: requests/s, status counts and latency percentiles computed from
 * every response time (autocannon's own summary has no p95).
 */
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  path: string;
  /** Builds each request's body; called once per request. */
  body: () => string;
  headers?: Record<string, string>;
  durationSeconds: number;
  connections: number;
  /** Fixed request rate for the whole run; unset means as fast as the server answers. */
  overallRate?: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  statuses: Record<string, number>;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
}

const percentile = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

export async function load(options: LoadOptions): Promise<LoadResult> {
  const times: number[] = [];
  const statuses: Record<string, number> = {};
  let finish: (result: autocannon.Result) => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolveRun, rejectRun) => ((finish = resolveRun), (fail = rejectRun)));
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    requests: [
      {
        method: 'POST',
        path: options.path,
        headers: { 'content-type': 'application/json', ...options.headers },
        setupRequest: (request) => ({ ...request, body: options.body() }),
      },
    ],
  }, (error, result) => (error ? fail(error) : finish(result)));
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    times.push(responseTime);
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
  });
  const result = await done;
  const sorted = Float64Array.from(times).sort();
  return {
    requestsPerSecond: Math.round(result.requests.total / (result.duration || options.durationSeconds)),
    statuses,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    errors: result.errors + result.timeouts,
  };
}
