/**
 * Measures how many lines per second the test server itself accepts, from a client in the same
 * process, so a benchmark can tell the log worker's throughput apart from the server's ceiling.
 *
 * Costs and limits: bodies are built before the clock starts; the figure includes this process's
 * own HTTP client and JSON parsing, and shares the event loop with the server, so it is a
 * ceiling for this machine and process, not Loki's. The default limits (4 MB/s per tenant, 3 MB/s
 * per stream) throttle any real measurement: start the server with
 * `limits: { ingestionRateMb: 0, perStreamRateLimit: 0 }`; a rejected push fails the measurement.
 */
import { Agent, request } from 'node:http';

export interface AcceptRateOptions {
  /** Lines pushed in all. (Default: 100_000) */
  lines?: number;
  /** Lines per push. (Default: 1000) */
  batchSize?: number;
  /** Pushes in flight at once. (Default: 4) */
  concurrency?: number;
  /** Bytes per line. (Default: 120) */
  lineBytes?: number;
  /** Streams the lines are spread over. (Default: 8) */
  streams?: number;
  /** Tenant pushed to; its data is dropped afterwards. (Default: `accept-rate-bench`) */
  tenant?: string;
}

export interface AcceptRate {
  readonly lines: number;
  readonly pushes: number;
  readonly seconds: number;
  readonly linesPerSecond: number;
}

const defaults = {
  lines: 100_000,
  batchSize: 1000,
  concurrency: 4,
  lineBytes: 120,
  streams: 8,
  tenant: 'accept-rate-bench',
} as const satisfies Required<AcceptRateOptions>;

function buildBodies(options: Required<AcceptRateOptions>): Buffer[] {
  const bodies: Buffer[] = [];
  const base = BigInt(Date.now()) * 1_000_000n - BigInt(options.lines);
  const padding = 'x'.repeat(Math.max(0, options.lineBytes - 40));
  for (let first = 0; first < options.lines; first += options.batchSize) {
    const count = Math.min(options.batchSize, options.lines - first);
    const streams = new Map<number, [string, string][]>();
    for (let i = first; i < first + count; i += 1) {
      const values = streams.get(i % options.streams) ?? [];
      values.push([(base + BigInt(i)).toString(), `level=info line=${i} ${padding}`]);
      streams.set(i % options.streams, values);
    }
    const body = {
      streams: [...streams].map(([stream, values]) => ({ stream: { service: 'bench', stream: String(stream) }, values })),
    };
    bodies.push(Buffer.from(JSON.stringify(body)));
  }
  return bodies;
}

function post(agent: Agent, url: URL, tenant: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'X-Scope-OrgID': tenant, 'Content-Length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Pushes `lines` lines to `baseUrl` and returns the accept rate; throws if a push is refused. */
export async function measureAcceptRate(baseUrl: string, options: AcceptRateOptions = {}): Promise<AcceptRate> {
  const resolved = { ...defaults, ...options };
  const bodies = buildBodies(resolved);
  const url = new URL('/loki/api/v1/push', baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: resolved.concurrency });
  const refused = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const body = bodies[next];
      next += 1;
      if (body === undefined) break;
      const status = await post(agent, url, resolved.tenant, body);
      if (status !== 204) refused.set(status, (refused.get(status) ?? 0) + 1);
    }
  };
  const started = process.hrtime.bigint();
  try {
    await Promise.all(Array.from({ length: resolved.concurrency }, worker));
  } finally {
    agent.destroy();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (refused.size > 0) {
    throw new Error(
      `accept-rate measurement: the server refused pushes (${[...refused].map(([s, n]) => `${n}× ${s}`).join(', ')}); ` +
        'start it with limits { ingestionRateMb: 0, perStreamRateLimit: 0 } for benchmarks',
    );
  }
  return { lines: resolved.lines, pushes: bodies.length, seconds, linesPerSecond: resolved.lines / seconds };
}
