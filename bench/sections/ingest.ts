/**
 * Ingest: POST /execute and POST /execute/batch through `kitsune api` on the real broker, at
 * saturation (autocannon) and at fixed rates (open loop), beside the same runs against a bare
 * Fastify handler (parse, answer 202) and beside the Kafka client producing the same records
 * directly. Also the API's peak RSS under that load.
 */
import { freePort } from '../../src/cli/ports.ts';
import { goPeers, spawnGoApi } from '../support/go-peers.ts';
import { benchTopics, createTopics, deleteTopics, type BenchTopics } from '../support/infra.ts';
import { spawnBareServer, spawnRole, type Spawned } from '../support/processes.ts';
import { cpuLabels, type Context, type IngestRuns, type MemoryFigure } from './context.ts';

/** The endpoints (both by default), each run at saturation and at every fixed rate, against `url`. */
async function measureHttp<K extends 'execute' | 'batch'>(ctx: Context, url: string, label: string, pid: number, kinds: readonly K[]): Promise<Record<K, IngestRuns>> {
  const load = await ctx.load();
  const { settings: s } = ctx;
  const batchConnections = Math.max(4, s.connections / 10);
  const failed = (statuses: Record<string, number>, errors: number): number =>
    Object.entries(statuses).reduce((sum, [status, count]) => (status.startsWith('2') ? sum : sum + count), errors);

  // Warm the JIT and the producer's connections before anything is recorded.
  await load.call('saturate', { url, kind: 'execute', batchSize: 1, seconds: s.warmSeconds, connections: s.connections });
  const runs = {} as Record<K, IngestRuns>;
  for (const kind of kinds) {
    ctx.log(`${label}: ${kind} at saturation`);
    const window = ctx.cpu(cpuLabels.ingest(label, kind), { measured: { [label]: [pid] } });
    const sat = await load.call('saturate', { url, kind, batchSize: s.batchSize, seconds: s.saturationSeconds, connections: kind === 'execute' ? s.connections : batchConnections });
    window(sat.eventsPerSecond);
    runs[kind] = { saturation: { eventsPerSecond: sat.eventsPerSecond, latency: sat.latency, failed: failed(sat.statuses, sat.errors) }, rates: [] };
    for (const rate of s.fixedRates) {
      ctx.log(`${label}: ${kind} at ${rate} events/s`);
      const rateWindow = ctx.cpu(cpuLabels.ingest(label, kind, rate), { measured: { [label]: [pid] } });
      const run = await load.call('fixedRate', { url, kind, batchSize: s.batchSize, eventsPerSecond: rate, seconds: s.fixedSeconds });
      rateWindow(run.achievedEventsPerSecond);
      runs[kind].rates.push({ target: rate, achieved: run.achievedEventsPerSecond, latency: run.latency, failed: failed(run.statuses, run.errors) });
    }
  }
  return runs;
}

/** `kitsune api` on Kafka alone: no POSTGRES_DSN, so no results route and no pool. */
export const apiEnv = (ctx: Context, port: number, topics: BenchTopics): Record<string, string> => ({
  HTTP_PORT: String(port),
  KAFKA_BROKERS: ctx.brokers.join(','),
  ...topics.env,
});

function memoryUnderLoad(process: Spawned, under: string): MemoryFigure | undefined {
  const now = process.memory();
  return now && process.atReady ? { peakMb: now.peakMb, readyMb: process.atReady.rssMb, under } : undefined;
}

/**
 * The bare Kafka client's runs. Each run is a baseline of its own: one that fails (the broker
 * refusing a send, say) is reported and left out, and the others still run.
 */
async function measureKafkaDirect(ctx: Context): Promise<Partial<Record<'execute' | 'batch', IngestRuns>>> {
  const { settings: s } = ctx;
  const runs: Partial<Record<'execute' | 'batch', IngestRuns>> = {};
  const direct = await ctx.direct();
  const ready = await ctx.baseline('ingest: bare Kafka client', () => direct.call('init', { brokers: ctx.brokers, prefix: `bench-${ctx.runId}-direct` }));
  if (!ready) return runs;
  // Per send, as many commands as the HTTP runs can have in flight: one per connection for
  // /execute, a batch per connection for /execute/batch.
  const perSend = { execute: s.connections, batch: Math.max(4, s.connections / 10) * s.batchSize };
  for (const kind of ['execute', 'batch'] as const) {
    ctx.log(`Kafka client direct: ${perSend[kind]} commands per send`);
    const window = ctx.cpu(`ingest: Kafka client direct, ${perSend[kind]} commands per send`, { measured: { 'Kafka client (bare)': [direct.pid] } });
    const sat = await ctx.baseline(`ingest: bare Kafka client, ${perSend[kind]} commands per send`, () => direct.call('saturate', { eventsPerSend: perSend[kind], seconds: s.fixedSeconds }));
    if (!sat) continue;
    window(sat.eventsPerSecond);
    const kindRuns: IngestRuns = { saturation: { eventsPerSecond: sat.eventsPerSecond, latency: sat.latency, failed: 0 }, rates: [] };
    runs[kind] = kindRuns;
    const perArrival = kind === 'execute' ? 1 : s.batchSize;
    for (const rate of s.fixedRates) {
      ctx.log(`Kafka client direct: ${perArrival} per arrival at ${rate} events/s`);
      const run = await ctx.baseline(`ingest: bare Kafka client, ${perArrival} per arrival at ${rate}/s`, () =>
        direct.call('fixedRate', { eventsPerSecond: rate, eventsPerArrival: perArrival, seconds: s.fixedSeconds }),
      );
      if (run) kindRuns.rates.push({ target: rate, achieved: run.achievedEventsPerSecond, latency: run.latency, failed: 0 });
    }
  }
  return runs;
}

const bothKinds = ['execute', 'batch'] as const;

/**
 * The Go reference API (bench/peers/go) under the same /execute runs, on topics of its own
 * created beforehand with Kitsune's partition counts. It has no /execute/batch. Skipped, with the
 * reason printed and kept, when Go is not installed.
 */
async function measureGoApi(ctx: Context): Promise<{ execute: IngestRuns } | undefined> {
  const peers = goPeers((line) => ctx.log(line));
  ctx.results.goPeers = peers.available ? { available: true, go: peers.go } : peers;
  if (!peers.available) {
    ctx.log(`Go reference skipped: ${peers.reason}`);
    return undefined;
  }
  const topics = benchTopics(`bench-${ctx.runId}-goapi`);
  await createTopics(ctx.brokers, topics);
  try {
    const port = await freePort();
    const api = ctx.track(await spawnGoApi(peers, { HTTP_PORT: String(port), KAFKA_BROKERS: ctx.brokers.join(','), ...topics.env }));
    try {
      const runs = await measureHttp(ctx, `http://127.0.0.1:${port}`, 'Go reference API', api.pid, ['execute'] as const);
      const memory = memoryUnderLoad(api, 'the /execute runs');
      if (memory) ctx.results.memory.goApi = memory;
      return runs;
    } finally {
      await api.stop();
    }
  } finally {
    await deleteTopics(ctx.brokers, topics.all);
  }
}

export async function ingestSection(ctx: Context): Promise<void> {
  const bareRuns = await ctx.baseline('ingest: bare Fastify', async () => {
    const barePort = await freePort();
    const bare = ctx.track(await spawnBareServer(barePort));
    try {
      const runs = await measureHttp(ctx, `http://127.0.0.1:${barePort}`, 'bare Fastify', bare.pid, bothKinds);
      const memory = memoryUnderLoad(bare, 'the ingest runs');
      if (memory) ctx.results.memory.bare = memory;
      return runs;
    } finally {
      await bare.stop();
    }
  });

  const kafkaRuns = await measureKafkaDirect(ctx);
  const goRuns = await ctx.baseline('ingest: Go reference API', () => measureGoApi(ctx));

  const topics = benchTopics(`bench-${ctx.runId}-ingest`);
  const apiPort = await freePort();
  try {
    const api = ctx.track(await spawnRole('api', apiEnv(ctx, apiPort, topics)));
    try {
      const kitsuneRuns = await measureHttp(ctx, `http://127.0.0.1:${apiPort}`, 'kitsune api', api.pid, bothKinds);
      ctx.results.ingest = { kitsune: kitsuneRuns, kafka: kafkaRuns, ...(bareRuns ? { bare: bareRuns } : {}), ...(goRuns ? { go: goRuns } : {}) };
      const memory = memoryUnderLoad(api, 'the ingest runs');
      if (memory) ctx.results.memory.api = memory;
    } finally {
      await api.stop();
    }
  } finally {
    await deleteTopics(ctx.brokers, topics.all);
  }
}
