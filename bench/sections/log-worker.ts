/**
 * Log worker: `kitsune log-worker` draining app-logs records already on Kafka into the Loki test
 * server (its own process, rate limits off), beside that server's raw accept rate measured from
 * this process in the same run. Both reach the server over loopback from another process, so the
 * ratio compares like with like; neither is real Loki's figure.
 */
import { randomUUID } from 'node:crypto';
import { encodeEvent, eventHeaders, type CommandEvent } from '../../src/events/envelope.ts';
import { newEventId } from '../../src/events/ids.ts';
import { childTraceparent } from '../../src/observability/trace-context.ts';
import { createKafkaTransport } from '../../src/transport/kafka/index.ts';
import type { OutgoingMessage } from '../../src/transport/types.ts';
import { measureAcceptRate } from '../../test/support/loki/bench.ts';
import { benchTopics, deleteTopics, type BenchTopics } from '../support/infra.ts';
import type { LokiChild } from '../support/loki-child.ts';
import { timeDrain } from '../support/drain.ts';
import { spawnRole } from '../support/processes.ts';
import { forkChild, type ForkedChild } from '../support/rpc.ts';
import type { Context, MemoryFigure } from './context.ts';

const commands = ['create_user', 'update_user', 'delete_user'] as const;

/** Records as the API writes them: six streams (3 commands × 2 levels), ~100-byte messages. */
function records(count: number): OutgoingMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const id = newEventId();
    const command = commands[i % commands.length]!;
    const event: CommandEvent = {
      id,
      command,
      version: '1',
      payload: { name: `user ${i}`, email: `user-${i}@example.com` },
      log: { level: i % 2 === 0 ? 'INFO' : 'WARN', message: `${command} for user-${i}@example.com accepted; ${'detail '.repeat(10)}` },
      metadata: { idempotency_key: id, timestamp: new Date().toISOString(), source: 'bench' },
    };
    return {
      id,
      value: encodeEvent(event),
      headers: { [eventHeaders.command]: command, [eventHeaders.version]: '1', [eventHeaders.traceparent]: childTraceparent(undefined) },
    };
  });
}

/** Puts `total` app-logs records on a fresh topic (3 partitions). */
export async function publishLogRecords(ctx: Pick<Context, 'brokers' | 'log'>, topics: BenchTopics, total: number): Promise<void> {
  ctx.log(`publishing ${total.toLocaleString('en')} app-logs records`);
  const transport = createKafkaTransport({ brokers: ctx.brokers, clientId: 'bench-logs-setup' });
  try {
    await transport.ensureTopics([
      { name: topics.appLogs, partitions: 3 },
      { name: `${topics.appLogs}.dlq`, partitions: 1 },
    ]);
    const all = records(total);
    for (let i = 0; i < all.length; i += 5_000) await transport.publish(topics.appLogs, all.slice(i, i + 5_000));
  } finally {
    await transport.close();
  }
}

/**
 * Publishes `total` records, starts `kitsune log-worker` into `loki`, times it from the first
 * line the server stores (so the group join is not counted) to the last, and stops it.
 */
export async function drainWithLogWorker(
  ctx: Context,
  loki: ForkedChild<LokiChild>,
  total: number,
  options: { label: string; profileDir?: string },
): Promise<{ linesPerSecond: number; pushes: number; memory: MemoryFigure | undefined; window: { fromMs: number; toMs: number } }> {
  const topics = benchTopics(`bench-${ctx.runId}-logs-${randomUUID().slice(0, 6)}`);
  try {
    await publishLogRecords(ctx, topics, total);
    await loki.call('reset');
    ctx.log('kitsune log-worker: draining into the Loki test server');
    const env = { KAFKA_BROKERS: ctx.brokers.join(','), LOKI_URL: await loki.call('url'), KAFKA_GROUP_ID: `bench-${ctx.runId}`, KITSUNE_METRICS_PORT: '0', ...topics.env };
    const worker = ctx.track(await spawnRole('log-worker', env, options.profileDir));
    try {
      let window: ((eventsPerSecond?: number) => void) | undefined;
      let fromMs = 0;
      const linesPerSecond = await timeDrain({
        count: async () => (await loki.call('stats')).acceptedEntries,
        total,
        pollMs: 25,
        who: 'the log worker',
        unit: 'lines',
        onFirst: () => {
          fromMs = Date.now() - worker.spawnedAt;
          window = ctx.cpu(options.label, { measured: { 'kitsune log-worker': [worker.pid] }, others: { 'loki test server': [loki.pid] } });
        },
      });
      const toMs = Date.now() - worker.spawnedAt;
      window?.(linesPerSecond);
      const memory = worker.memory();
      const { pushes } = await loki.call('stats');
      return {
        linesPerSecond,
        pushes,
        window: { fromMs, toMs },
        memory: memory && worker.atReady ? { peakMb: memory.peakMb, readyMb: worker.atReady.rssMb, under: `draining ${total.toLocaleString('en')} lines` } : undefined,
      };
    } finally {
      await worker.stop();
    }
  } finally {
    await deleteTopics(ctx.brokers, topics.all);
  }
}

export async function logWorkerSection(ctx: Context): Promise<void> {
  const total = ctx.settings.logLines;
  const loki = ctx.track(await forkChild<LokiChild>('bench/support/loki-child.ts'));
  try {
    const drained = await drainWithLogWorker(ctx, loki, total, { label: `log-worker: draining ${total.toLocaleString('en')} lines` });
    if (drained.memory) ctx.results.memory.logWorker = drained.memory;
    await loki.call('reset');
    ctx.log('Loki test server: raw accept rate');
    const url = await loki.call('url');
    const raw = await ctx.baseline('log-worker: Loki test server accept rate', () => measureAcceptRate(url, { lines: total, batchSize: 1_000, concurrency: 4, lineBytes: 160, streams: 6 }));
    ctx.results.logWorker = { lines: total, linesPerSecond: drained.linesPerSecond, pushes: drained.pushes, ...(raw ? { acceptRate: Math.round(raw.linesPerSecond) } : {}) };
  } finally {
    await loki.stop();
  }
}
