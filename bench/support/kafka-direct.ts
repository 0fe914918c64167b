/**
 * The ingest baseline "the Kafka client producing the same records directly": the very records the
 * API would produce for each create_user command (built by the API's own prepareCommand: db-events
 * keyed by entity, app-logs unkeyed, same value and headers), sent with bare @platformatic/kafka
 * (idempotent, acks=all) from a process of its own, with no HTTP and no validation in the timed
 * part. Like Kitsune's publisher, one produce request is in flight at a time (the idempotent
 * producer needs it) and whatever arrived meanwhile rides in the next one. One process serves the
 * broker's warm-up, the ingest baselines and the end-to-end floor (`ctx.direct()` in bench/run.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Admin, Consumer, Producer, type MessageToProduce } from '@platformatic/kafka';
import { repoRoot } from '../../scripts/services/state.ts';
import { prepareCommand } from '../../src/apps/api/command-request.ts';
import { CommandSchemas } from '../../src/apps/api/command-schemas.ts';
import { EventIds } from '../../src/events/event-ids.ts';
import { loadRegistry } from '../../src/commands/index.ts';
import { childTraceparent } from '../../src/observability/trace-context.ts';
import { kafkaSerializers } from '../../src/transport/kafka/options.ts';
import { reservedHeaders } from '../../src/transport/types.ts';
import { coalescingSender } from './coalescing-sender.ts';
import { commandSource } from './commands.ts';
import { serve } from './rpc.ts';
import { latencyOf, type Latency } from './stats.ts';

type Record_ = MessageToProduce<string, Buffer, string, string>;

interface Topics {
  dbEvents: string;
  appLogs: string;
}

let brokers: string[] = [];
let topics: Topics | undefined;
let producer: Producer<string, Buffer, string, string> | undefined;
/** Every topic this process created (one child serves the warm-up, ingest and e2e), deleted when it ends. */
const created: string[] = [];
/**
 * The bare consumer of roundTrip, kept across calls on the same topics so the group joins once:
 * each call then only swaps in its own receipt handler.
 */
interface Reader {
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  stream: Awaited<ReturnType<Consumer<Buffer, Buffer, Buffer, Buffer>['consume']>>;
  onKey: (key: string) => void;
}
let reader: Reader | undefined;

async function closeReader(): Promise<void> {
  const open = reader;
  reader = undefined;
  if (!open) return;
  await open.stream.close().catch(() => undefined);
  await open.consumer.close().catch(() => undefined);
}

/** The reader on the current db-events topic, joined and assigned before it resolves. */
async function openReader(): Promise<Reader> {
  if (reader) return reader;
  const consumer = new Consumer({ clientId: 'bench-direct-consumer', groupId: `bench-direct-${randomUUID()}`, bootstrapBrokers: brokers, autocommit: false, maxWaitTime: 500 });
  const stream = await consumer.consume({ topics: [topics!.dbEvents], mode: 'latest', autocommit: false });
  const opened: Reader = { consumer, stream, onKey: () => undefined };
  stream.on('data', (message: { key: Buffer | string | undefined }) => opened.onKey(String(message.key)));
  // Let the group settle on its assignment before the first record is timed.
  await new Promise((r) => setTimeout(r, 1_500));
  reader = opened;
  return opened;
}

const ids = new EventIds(randomBytes(32));
const schemas = new CommandSchemas(await loadRegistry(join(repoRoot, 'commands', 'registry.yaml')), { logMessageMaxBytes: 16_384 });
const source = commandSource(`direct.p${process.pid}`);

/** Both records of `count` fresh commands, exactly as the API builds them. */
function eventsOf(count: number): Array<{ key: string; records: Record_[] }> {
  const now = new Date();
  return Array.from({ length: count }, () => {
    const prepared = prepareCommand(source.command(), schemas, ids, { source: undefined, allowedCommands: undefined, idempotencyKey: undefined, traceparent: childTraceparent(undefined), now });
    const { dbRecord, logRecord } = prepared;
    return {
      key: dbRecord.key!,
      records: [
        { topic: topics!.dbEvents, key: dbRecord.key, value: dbRecord.value, headers: { ...dbRecord.headers, [reservedHeaders.id]: dbRecord.id } },
        { topic: topics!.appLogs, value: logRecord.value, headers: { ...logRecord.headers, [reservedHeaders.id]: logRecord.id } },
      ],
    };
  });
}

function openProducer(): Producer<string, Buffer, string, string> {
  producer ??= new Producer({ clientId: 'bench-direct', bootstrapBrokers: brokers, serializers: kafkaSerializers, idempotent: true, acks: -1 });
  return producer;
}

const handlers = {
  init: async (p: { brokers: string[]; prefix: string }) => {
    await closeReader();
    brokers = p.brokers;
    topics = { dbEvents: `${p.prefix}-db-events`, appLogs: `${p.prefix}-app-logs` };
    const admin = new Admin({ clientId: 'bench-direct-admin', bootstrapBrokers: brokers });
    try {
      await admin.createTopics({ topics: [topics.dbEvents], partitions: 6, replicas: 1 });
      created.push(topics.dbEvents);
      await admin.createTopics({ topics: [topics.appLogs], partitions: 3, replicas: 1 });
      created.push(topics.appLogs);
    } finally {
      await admin.close();
    }
    // Connect and fetch metadata before anything is timed.
    await openProducer().send({ messages: eventsOf(10).flatMap((e) => e.records) });
    return topics;
  },

  /** Back-to-back sends of `eventsPerSend` commands (2 records each) for `seconds`. */
  saturate: async (p: { eventsPerSend: number; seconds: number }): Promise<{ eventsPerSecond: number; latency: Latency }> => {
    const pool = eventsOf(Math.max(p.eventsPerSend * 20, 10_000));
    const client = openProducer();
    const times: number[] = [];
    let sent = 0;
    const started = performance.now();
    const until = started + p.seconds * 1000;
    for (let i = 0; performance.now() < until; i = (i + p.eventsPerSend) % (pool.length - p.eventsPerSend)) {
      const t = performance.now();
      await client.send({ messages: pool.slice(i, i + p.eventsPerSend).flatMap((e) => e.records) });
      times.push(performance.now() - t);
      sent += p.eventsPerSend;
    }
    return { eventsPerSecond: Math.round(sent / ((performance.now() - started) / 1000)), latency: latencyOf(times) };
  },

  /** Arrivals of `eventsPerArrival` commands at a fixed rate; latency from scheduled time to ack. */
  fixedRate: async (p: { eventsPerSecond: number; eventsPerArrival: number; seconds: number }): Promise<{ achievedEventsPerSecond: number; latency: Latency }> => {
    const arrivals = Math.round((p.eventsPerSecond / p.eventsPerArrival) * p.seconds);
    const pool = eventsOf(Math.min(arrivals * p.eventsPerArrival, 50_000));
    const client = openProducer();
    const send = coalescingSender((records) => client.send({ messages: records }));
    const times: number[] = [];
    const pending: Array<Promise<void>> = [];
    const interval = 1000 / (p.eventsPerSecond / p.eventsPerArrival);
    const t0 = performance.now() + 5;
    for (let n = 0; n < arrivals; n++) {
      const at = t0 + n * interval;
      const wait = at - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const first = (n * p.eventsPerArrival) % (pool.length - p.eventsPerArrival + 1);
      pending.push(send(pool.slice(first, first + p.eventsPerArrival).flatMap((e) => e.records)).then(() => void times.push(performance.now() - at)));
    }
    await Promise.all(pending);
    return { achievedEventsPerSecond: Math.round((arrivals * p.eventsPerArrival) / ((performance.now() - t0) / 1000)), latency: latencyOf(times) };
  },

  /**
   * The transport floor of end-to-end latency: commands produced at a fixed rate and read back
   * by a bare consumer in this process; latency from scheduled send to receipt.
   */
  roundTrip: async (p: { eventsPerSecond: number; seconds: number }): Promise<{ latency: Latency; received: number }> => {
    const count = Math.round(p.eventsPerSecond * p.seconds);
    const pool = eventsOf(count);
    const scheduled = new Map<string, number>();
    const times: number[] = [];
    const consuming = await openReader();
    let resolveAll: () => void = () => undefined;
    const all = new Promise<void>((r) => (resolveAll = r));
    consuming.onKey = (key) => {
      const at = scheduled.get(key);
      if (at === undefined) return;
      scheduled.delete(key);
      times.push(performance.now() - at);
      if (times.length >= count) resolveAll();
    };
    const client = openProducer();
    const send = coalescingSender((records) => client.send({ messages: records }));
    const interval = 1000 / p.eventsPerSecond;
    const t0 = performance.now() + 5;
    const sends: Array<Promise<void>> = [];
    for (let n = 0; n < count; n++) {
      const at = t0 + n * interval;
      const wait = at - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      scheduled.set(pool[n]!.key, at);
      sends.push(send(pool[n]!.records));
    }
    await Promise.all(sends);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, 15_000)))]);
    clearTimeout(timer);
    consuming.onKey = () => undefined;
    return { latency: latencyOf(times), received: times.length };
  },
};

export type KafkaDirectChild = typeof handlers;

serve(handlers, async () => {
  await closeReader();
  await producer?.close().catch(() => undefined);
  if (created.length === 0) return;
  const admin = new Admin({ clientId: 'bench-direct-admin', bootstrapBrokers: brokers });
  await admin.deleteTopics({ topics: created }).catch(() => undefined);
  await admin.close();
});
