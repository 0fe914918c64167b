/**
 * End to end on Kafka: `kitsune api`, `kitsune db-worker` and `kitsune log-worker` (into the Loki
 * test server) as separate processes on a fresh database and fresh topics. At each fixed rate the
 * load generator posts create_user commands (open loop) and, for a sample of the accepted
 * events (about 200 a second, so the measuring is not a load of its own), waits on
 * GET /events/:id?wait=10 (5 with --quick); the figure is the time
 * from the 202 to the answer carrying the result. Baseline: the transport's own floor, the same
 * records produced at the same rate by the bare Kafka client and read back by a bare consumer.
 */
import pg from 'pg';
import { freePort } from '../../src/cli/ports.ts';
import type { LoadChild } from '../support/load-child.ts';
import type { LokiChild } from '../support/loki-child.ts';
import { benchTopics, createDatabase, deleteTopics } from '../support/infra.ts';
import { spawnRole } from '../support/processes.ts';
import { forkChild, type ForkedChild } from '../support/rpc.ts';
import type { Latency } from '../support/stats.ts';
import { cpuLabels, type Context, type CpuSubjects, type EndToEnd } from './context.ts';

/** Accepted → transaction start for every event whose result was stored since `since`. */
async function acceptedToTransaction(dsn: string, since: Date): Promise<EndToEnd['acceptedToTransaction']> {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    // A UUIDv7's first 48 bits are its Unix time in ms: when the API accepted the event. The API's
    // event ids are keyed (UUIDv8, src/events/event-ids.ts); without a client's key, the
    // idempotency key it generates is the UUIDv7.
    const { rows } = await client.query<{ count: number; p50: number; p95: number; p99: number }>(
      `WITH stamped AS (
         SELECT completed_at, CASE WHEN substr(event_id::text, 15, 1) = '7' THEN event_id::text ELSE idempotency_key END AS v7
         FROM kitsune.event_results WHERE completed_at >= $1),
       lag AS (
         SELECT extract(epoch FROM completed_at) * 1000
                - ('x' || substr(replace(v7, '-', ''), 1, 12))::bit(48)::bigint AS ms
         FROM stamped WHERE v7 ~ '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')
       SELECT count(*)::int AS count, p[1] AS p50, p[2] AS p95, p[3] AS p99
       FROM (SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ms) AS p FROM lag) q, lag
       GROUP BY p`,
      [since],
    );
    const row = rows[0];
    return row ? { count: row.count, p50: Math.round(row.p50), p95: Math.round(row.p95), p99: Math.round(row.p99) } : undefined;
  } finally {
    await client.end();
  }
}

/**
 * One fixed-rate step with result sampling, then waiting until the pipeline has drained. With
 * `dsn`, also reads how long each event waited before the DB worker's transaction took it.
 */
export async function endToEndStep(
  ctx: Context,
  load: ForkedChild<LoadChild>,
  url: string,
  rate: number,
  seconds: number,
  cpu?: { label: string; pids: CpuSubjects },
  dsn?: string,
  /** Wait for the pipeline to catch up afterwards; --quick skips it after a section's last step. */
  drain = true,
): Promise<EndToEnd> {
  const since = new Date();
  const window = cpu && ctx.cpu(cpu.label, cpu.pids);
  const run = await load.call('fixedRate', {
    url,
    kind: 'execute',
    batchSize: 1,
    eventsPerSecond: rate,
    seconds,
    e2e: { sampleEvery: Math.max(1, Math.ceil(rate / 200)), waitSeconds: ctx.settings.resultWaitSeconds },
  });
  window?.(run.achievedEventsPerSecond);
  const timeoutSeconds = ctx.settings.drainTimeoutSeconds;
  const drained = drain ? await load.call('waitForResults', { url, ids: run.lastIds, timeoutSeconds }) : { pending: 0 };
  if (drained.pending > 0) ctx.log(`  ${drained.pending} of the last accepted events still had no result after ${timeoutSeconds} s`);
  const failed = Object.entries(run.statuses).reduce((sum, [status, count]) => (status === '202' ? sum : sum + count), run.errors);
  const queued = dsn ? await acceptedToTransaction(dsn, since).catch(() => undefined) : undefined;
  if (queued) ctx.log(`  accepted → DB worker transaction began: p50 ${queued.p50} ms, p95 ${queued.p95} ms, p99 ${queued.p99} ms (${queued.count} events)`);
  return {
    target: rate,
    achieved: run.achievedEventsPerSecond,
    latency: run.latency,
    failed: failed + (run.e2e?.errors ?? 0),
    e2e: run.e2e!.latency,
    timeouts: run.e2e!.timeouts,
    ...(queued ? { acceptedToTransaction: queued } : {}),
  };
}

export async function e2eSection(ctx: Context): Promise<void> {
  const { settings: s } = ctx;
  const floor: Array<{ target: number; latency: Latency; received: number }> = [];
  const direct = await ctx.direct();
  const ready = await ctx.baseline('e2e: transport floor', () => direct.call('init', { brokers: ctx.brokers, prefix: `bench-${ctx.runId}-floor` }));
  for (const rate of ready ? s.fixedRates : []) {
    ctx.log(`transport floor: bare producer → bare consumer at ${rate} events/s`);
    const run = await ctx.baseline(`e2e: transport floor at ${rate}/s`, () => direct.call('roundTrip', { eventsPerSecond: rate, seconds: s.fixedSeconds }));
    if (run) floor.push({ target: rate, latency: run.latency, received: run.received });
  }

  const database = await createDatabase(ctx.services.postgresDsn, `kitsune_bench_${ctx.runId}_e2e`);
  const topics = benchTopics(`bench-${ctx.runId}-e2e`);
  const loki = ctx.track(await forkChild<LokiChild>('bench/support/loki-child.ts'));
  try {
    const apiPort = await freePort();
    const common = {
      KAFKA_BROKERS: ctx.brokers.join(','),
      POSTGRES_DSN: database.dsn,
      LOKI_URL: await loki.call('url'),
      KAFKA_GROUP_ID: `bench-${ctx.runId}-e2e`,
      ...topics.env,
    };
    ctx.log('starting kitsune api, db-worker and log-worker');
    const processes = await Promise.all([
      spawnRole('api', { ...common, HTTP_PORT: String(apiPort) }),
      spawnRole('db-worker', { ...common, KITSUNE_METRICS_PORT: '0' }),
      spawnRole('log-worker', { ...common, KITSUNE_METRICS_PORT: '0' }),
    ]);
    processes.forEach((p) => ctx.track(p));
    try {
      const url = `http://127.0.0.1:${apiPort}`;
      const load = await ctx.load();
      ctx.log('roles ready; warming them up at 500 events/s');
      await endToEndStep(ctx, load, url, 500, s.warmSeconds);
      const runs: EndToEnd[] = [];
      for (const [i, rate] of s.fixedRates.entries()) {
        ctx.log(`end to end at ${rate} events/s for ${s.e2eSeconds} s`);
        const last = i === s.fixedRates.length - 1;
        const [api, dbWorker, logWorker] = processes;
        const measured = { 'kitsune api': [api.pid], 'kitsune db-worker': [dbWorker.pid], 'kitsune log-worker': [logWorker.pid] };
        const cpu = { label: cpuLabels.e2e(rate), pids: { measured, others: { 'loki test server': [loki.pid] } } };
        runs.push(await endToEndStep(ctx, load, url, rate, s.e2eSeconds, cpu, database.dsn, !(s.quick && last)));
      }
      ctx.results.e2e = { runs, floor };
    } finally {
      await Promise.all(processes.map((p) => p.stop()));
    }
  } finally {
    await loki.stop();
    await deleteTopics(ctx.brokers, topics.all);
    await database.drop();
  }
}
