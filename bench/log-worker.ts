/**
 * Log worker throughput: app-logs records already on Kafka, drained by the log worker into the
 * Loki-compatible test server, printed beside that server's own accept rate measured in the same
 * run (the ratio is the figure to track; absolute numbers drift on a shared machine).
 *
 *   npm run bench:log-worker [-- --lines 50000]
 *
 * Limits: the server runs in this process and shares its event loop with the worker, so both
 * figures are lower than either would reach alone, and neither is real Loki's. Its rate limits
 * are off (Loki's defaults, 4 MB/s per tenant, would be what is measured otherwise).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { down, up } from '../scripts/services/harness.ts';
import { repoRoot } from '../scripts/services/state.ts';
import { createLogWorker } from '../src/apps/log-worker/build.ts';
import { createLokiSink } from '../src/apps/log-worker/loki-sink.ts';
import { LogWorkerMetrics } from '../src/apps/log-worker/metrics.ts';
import { configDefaults } from '../src/config/index.ts';
import { encodeEvent, eventHeaders, type CommandEvent } from '../src/events/envelope.ts';
import { newEventId } from '../src/events/ids.ts';
import { childTraceparent } from '../src/observability/trace-context.ts';
import { createKafkaTransport } from '../src/transport/kafka/index.ts';
import type { OutgoingMessage } from '../src/transport/types.ts';
import { startLokiServer } from '../test/support/loki/index.ts';

const { values: args } = parseArgs({ options: { lines: { type: 'string', default: '50000' } } });
const total = Number(args.lines);
const partitions = 3;
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

async function main(): Promise<void> {
  const services = await up({ requireKafka: true });
  const loki = await startLokiServer({ limits: { ingestionRateMb: 0, perStreamRateLimit: 0 } });
  const transport = createKafkaTransport({ brokers: services.kafkaBrokers!.split(','), clientId: 'bench-log-worker' });
  try {
    const topic = `bench-app-logs-${randomUUID().slice(0, 8)}`;
    await transport.ensureTopics([
      { name: topic, partitions },
      { name: `${topic}.dlq`, partitions: 1 },
    ]);
    const all = records(total);
    for (let i = 0; i < all.length; i += 1_000) await transport.publish(topic, all.slice(i, i + 1_000));

    const metrics = new LogWorkerMetrics();
    const worker = createLogWorker({
      subscriber: transport,
      publisher: transport,
      // The production defaults: 1 MiB batches, 1 s batch wait, 10 s timeout.
      sink: createLokiSink({ url: loki.url, serviceName: 'bench', metrics }),
      topic,
      group: `bench-${randomUUID()}`,
      metrics,
    });
    // Timed from the first line Loki stores, so the consumer group's join is not counted.
    await worker.start();
    while (loki.stats().acceptedEntries === 0) await sleep(1);
    const started = process.hrtime.bigint();
    const first = loki.stats().acceptedEntries;
    while (loki.stats().acceptedEntries < total) await sleep(5);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await worker.stop();
    const workerRate = Math.round((total - first) / seconds);
    const pushes = [...metrics.snapshot().pushes.values()].reduce((a, b) => a + b, 0);

    const raw = await loki.measureAcceptRate({ lines: 100_000, batchSize: 1_000, concurrency: 4, lineBytes: 160, streams: 6 });
    const rawRate = Math.round(raw.linesPerSecond);

    console.log(`\n${total.toLocaleString('en')} app-logs records on ${partitions} partitions, 6 streams; batch ${configDefaults.lokiBatchBytes} B / ${configDefaults.lokiBatchWaitMs} ms\n`);
    console.table([
      { path: 'kitsune log worker: Kafka → Loki test server', 'lines/s': workerRate, pushes, 'lines/push': Math.round(total / pushes) },
      { path: 'Loki test server raw accept rate (measureAcceptRate)', 'lines/s': rawRate, pushes: raw.pushes, 'lines/push': Math.round(raw.lines / raw.pushes) },
    ]);
    console.log(`log worker / server accept rate: ${(workerRate / rawRate).toFixed(2)}x`);
    const dir = join(repoRoot, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'log-worker.json'),
      `${JSON.stringify({ date: new Date().toISOString(), total, partitions, workerLinesPerSecond: workerRate, pushes, serverAcceptLinesPerSecond: rawRate }, null, 2)}\n`,
    );
  } finally {
    await transport.close();
    await loki.close();
    await down(services.started);
  }
}

await main();
