/**
 * DB worker: `kitsune db-worker` draining `create_user` events that are already on db-events
 * (6 partitions), in a fresh database, beside two baselines on that same database measured just
 * before: a plain loop of single-row INSERT transactions (autocommit, one connection, the same
 * statement the registry runs) and multi-row INSERTs of 500 rows (the worker's batch size).
 * Throughput is read from the worker's own counter (kitsune_db_events_total on /metrics) from the
 * first outcome to the last, so the group join is not counted.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { freePort } from '../../src/cli/ports.ts';
import { encodeEvent, eventHeaders, type CommandEvent } from '../../src/events/envelope.ts';
import { newEventId } from '../../src/events/ids.ts';
import { childTraceparent } from '../../src/observability/trace-context.ts';
import { createKafkaTransport } from '../../src/transport/kafka/index.ts';
import type { OutgoingMessage } from '../../src/transport/types.ts';
import { benchTopics, createDatabase, deleteTopics, metricSum, type BenchDatabase, type BenchTopics } from '../support/infra.ts';
import { timeDrain } from '../support/drain.ts';
import { goPeers, spawnGoDbWorker } from '../support/go-peers.ts';
import { spawnRole } from '../support/processes.ts';
import { cpuLabels, type Context, type MemoryFigure } from './context.ts';

/** The registry's create_user statement, run by the baselines against a copy of `users`. */
const insertOne = 'INSERT INTO bench_users (name, email) VALUES ($1, $2) RETURNING id, name, email, created_at';
const insertMany = 'INSERT INTO bench_users (name, email) SELECT * FROM unnest($1::text[], $2::text[]) RETURNING id, name, email, created_at';

const user = (scope: string, n: number): [string, string] => [`Bench User ${n}`, `u${n}.${scope}@bench.example.com`];

async function baselines(ctx: Context, dsn: string, scope: string, seconds: number, rows: number): Promise<{ singleRowPerSecond: number; multiRowPerSecond: number }> {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    await client.query('CREATE TABLE bench_users (LIKE users INCLUDING ALL)');
    let n = 0;
    let started = process.hrtime.bigint();
    const until = started + BigInt(seconds * 1e9);
    const window = ctx.cpu('db-worker baseline: single-row INSERT loop', { measured: { 'bench (the loop)': [process.pid] } });
    while (process.hrtime.bigint() < until) await client.query(insertOne, user(`${scope}.single`, n++));
    const singleRowPerSecond = Math.round(n / (Number(process.hrtime.bigint() - started) / 1e9));
    window(singleRowPerSecond);

    await client.query('TRUNCATE bench_users');
    started = process.hrtime.bigint();
    for (let first = 0; first < rows; first += 500) {
      const chunk = Array.from({ length: Math.min(500, rows - first) }, (_, i) => user(`${scope}.multi`, first + i));
      await client.query(insertMany, [chunk.map((u) => u[0]), chunk.map((u) => u[1])]);
    }
    const multiRowPerSecond = Math.round(rows / (Number(process.hrtime.bigint() - started) / 1e9));
    await client.query('DROP TABLE bench_users');
    return { singleRowPerSecond, multiRowPerSecond };
  } finally {
    await client.end();
  }
}

/** Records as the API writes them to db-events: keyed by email, with the envelope's headers. */
/** With `poisonEvery` N, every Nth event takes the email of the one before it: PostgreSQL refuses it (23505). */
function createUserRecords(scope: string, count: number, poisonEvery = 0): OutgoingMessage[] {
  const timestamp = new Date().toISOString();
  return Array.from({ length: count }, (_, n) => {
    const id = newEventId();
    const poison = poisonEvery > 0 && n % poisonEvery === poisonEvery - 1 && n > 0;
    const [name, email] = poison ? [user(scope, n)[0], user(scope, n - 1)[1]] : user(scope, n);
    const event: CommandEvent = {
      id,
      command: 'create_user',
      version: '1',
      payload: { name, email },
      log: { level: 'INFO', message: `create_user accepted for bench user ${n}` },
      metadata: { idempotency_key: id, timestamp, source: 'bench' },
    };
    return {
      id,
      key: email,
      value: encodeEvent(event),
      headers: { [eventHeaders.command]: 'create_user', [eventHeaders.version]: '1', [eventHeaders.traceparent]: childTraceparent(undefined) },
    };
  });
}

/** Puts `total` create_user events on a fresh db-events topic (6 partitions); every `poisonEvery`th one is refused. */
export async function publishCreateUsers(ctx: Pick<Context, 'brokers' | 'log'>, topics: BenchTopics, scope: string, total: number, poisonEvery = 0): Promise<void> {
  ctx.log(`publishing ${total.toLocaleString('en')} create_user events to ${topics.dbEvents}${poisonEvery > 0 ? `, every ${poisonEvery}th a duplicate email` : ''}`);
  const transport = createKafkaTransport({ brokers: ctx.brokers, clientId: 'bench-dbw-setup' });
  try {
    await transport.ensureTopics([
      { name: topics.dbEvents, partitions: 6 },
      { name: `${topics.dbEvents}.dlq`, partitions: 1 },
      { name: topics.dbResults, partitions: 6 },
    ]);
    // One publish at a time: concurrent ones are coalesced into a single produce request,
    // and past ~1 MB per partition the broker refuses it (MESSAGE_TOO_LARGE).
    const records = createUserRecords(scope, total, poisonEvery);
    for (let i = 0; i < records.length; i += 5_000) await transport.publish(topics.dbEvents, records.slice(i, i + 5_000));
  } finally {
    await transport.close();
  }
}

export interface Drained {
  commandsPerSecond: number;
  memory: MemoryFigure | undefined;
  /** The timed part, in ms since the worker was spawned (to cut a profile to it). */
  window: { fromMs: number; toMs: number };
}

/**
 * Starts `kitsune db-worker` on the topic and database, times it from its first outcome to the
 * `total`-th (kitsune_db_events_total on its /metrics), and stops it.
 */
export async function drainWithDbWorker(ctx: Context, database: BenchDatabase, topics: BenchTopics, total: number, options: { cpuLabel: string; profileDir?: string }): Promise<Drained> {
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  ctx.log('kitsune db-worker: draining');
  const worker = ctx.track(
    await spawnRole(
      'db-worker',
      { KAFKA_BROKERS: ctx.brokers.join(','), POSTGRES_DSN: database.dsn, KAFKA_GROUP_ID: `bench-${ctx.runId}-${randomUUID().slice(0, 8)}`, KITSUNE_METRICS_PORT: String(metricsPort), ...topics.env },
      options.profileDir,
    ),
  );
  try {
    let window: ((eventsPerSecond?: number) => void) | undefined;
    let fromMs = 0;
    const commandsPerSecond = await timeDrain({
      // The metrics port may open a moment after the ready line: not listening yet counts as none done.
      count: () => metricSum(metricsUrl, 'kitsune_db_events_total').catch(() => 0),
      total,
      // Each scrape costs the worker (prom-client serialises every metric): 4% of its CPU at 20 Hz.
      pollMs: 100,
      who: 'the DB worker',
      unit: 'events',
      onFirst: () => {
        fromMs = Date.now() - worker.spawnedAt;
        window = ctx.cpu(options.cpuLabel, { measured: { 'kitsune db-worker': [worker.pid] } });
      },
    });
    const toMs = Date.now() - worker.spawnedAt;
    window?.(commandsPerSecond);
    const memory = worker.memory();
    return {
      commandsPerSecond,
      window: { fromMs, toMs },
      memory: memory && worker.atReady ? { peakMb: memory.peakMb, readyMb: worker.atReady.rssMb, under: `draining ${total.toLocaleString('en')} events` } : undefined,
    };
  } finally {
    await worker.stop();
  }
}

/**
 * The Go reference DB worker (bench/peers/go) draining the same number of create_user events from
 * topics and a database of its own, timed the same way (its GET /count instead of /metrics).
 * Undefined, with the reason logged, when Go is not installed.
 */
async function drainWithGo(ctx: Context, total: number): Promise<{ commandsPerSecond: number; usersRows: number } | undefined> {
  const peers = goPeers((line) => ctx.log(line));
  ctx.results.goPeers ??= peers.available ? { available: true, go: peers.go } : peers;
  if (!peers.available) {
    ctx.log(`Go reference skipped: ${peers.reason}`);
    return undefined;
  }
  const database = await createDatabase(ctx.services.postgresDsn, `kitsune_bench_${ctx.runId}_godbw`);
  const topics = benchTopics(`bench-${ctx.runId}-godbw`);
  try {
    await publishCreateUsers(ctx, topics, `${ctx.runId}.godbw`, total);
    const port = await freePort();
    ctx.log('Go reference DB worker: draining');
    const worker = ctx.track(
      await spawnGoDbWorker(peers, { KAFKA_BROKERS: ctx.brokers.join(','), POSTGRES_DSN: database.dsn, KAFKA_GROUP_ID: `bench-${ctx.runId}-go`, KITSUNE_METRICS_PORT: String(port), ...topics.env }),
    );
    let commandsPerSecond: number;
    try {
      let window: ((eventsPerSecond?: number) => void) | undefined;
      commandsPerSecond = await timeDrain({
        count: async () => Number(await (await fetch(`http://127.0.0.1:${port}/count`)).text()),
        total,
        pollMs: 100,
        who: 'the Go reference DB worker',
        unit: 'events',
        onFirst: () => (window = ctx.cpu(cpuLabels.goDbWorker(total), { measured: { 'Go DB worker': [worker.pid] } })),
      });
      window?.(commandsPerSecond);
      const memory = worker.memory();
      if (memory && worker.atReady) ctx.results.memory.goDbWorker = { peakMb: memory.peakMb, readyMb: worker.atReady.rssMb, under: `draining ${total.toLocaleString('en')} events` };
    } finally {
      await worker.stop();
    }
    const check = new pg.Client({ connectionString: database.dsn });
    await check.connect();
    const { rows } = await check.query<{ users: number }>('SELECT count(*)::int AS users FROM users');
    await check.end();
    return { commandsPerSecond, usersRows: rows[0]!.users };
  } finally {
    await deleteTopics(ctx.brokers, topics.all);
    await database.drop();
  }
}

export async function dbWorkerSection(ctx: Context): Promise<void> {
  const total = ctx.settings.dbWorkerEvents;
  const scope = `${ctx.runId}.dbw`;
  const database = await createDatabase(ctx.services.postgresDsn, `kitsune_bench_${ctx.runId}_dbw`);
  const topics = benchTopics(`bench-${ctx.runId}-dbw`);
  try {
    ctx.log(`baselines: single-row INSERT loop for ${ctx.settings.fixedSeconds} s, then ${total.toLocaleString('en')} rows by multi-row INSERT`);
    const base = await ctx.baseline('db-worker: SQL baselines', () => baselines(ctx, database.dsn, scope, ctx.settings.fixedSeconds, total));
    await publishCreateUsers(ctx, topics, scope, total);
    const drained = await drainWithDbWorker(ctx, database, topics, total, { cpuLabel: cpuLabels.dbWorker(total) });
    if (drained.memory) ctx.results.memory.dbWorker = drained.memory;

    const check = new pg.Client({ connectionString: database.dsn });
    await check.connect();
    const { rows } = await check.query<{ users: number; other: number }>(
      "SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM kitsune.event_results WHERE status <> 'succeeded')::int AS other",
    );
    await check.end();
    const go = await ctx.baseline('db-worker: Go reference DB worker', () => drainWithGo(ctx, total));
    ctx.results.dbWorker = { events: total, commandsPerSecond: drained.commandsPerSecond, ...base, notSucceeded: rows[0]!.other, usersRows: rows[0]!.users, ...(go ? { go } : {}) };
  } finally {
    await deleteTopics(ctx.brokers, topics.all);
    await database.drop();
  }
}
