/**
 * Transport throughput: 1 KiB messages published and consumed through each implementation of the
 * seam, printed beside a bare client doing the same work in the same run (the ratio is the
 * figure to track; absolute numbers drift on a shared machine).
 *
 *   npm run bench:transport [-- --messages 50000]
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Admin, Consumer, Producer, stringSerializers } from '@platformatic/kafka';
import pg from 'pg';
import { down, up } from '../scripts/services/harness.ts';
import { repoRoot } from '../scripts/services/state.ts';
import { createKafkaTransport } from '../src/transport/kafka/index.ts';
import { MemoryTransport } from '../src/transport/memory/index.ts';
import type { OutgoingMessage, Transport } from '../src/transport/types.ts';
import { createPostgresTransport } from '../src/transport/postgres/index.ts';

const { values: args } = parseArgs({ options: { messages: { type: 'string', default: '50000' } } });
const total = Number(args.messages);
const batchSize = 500;
const partitions = 6;
const payload = Buffer.alloc(1024, 'k');

interface Row {
  implementation: string;
  publishPerSecond: number;
  consumePerSecond: number;
}

const rate = (count: number, startedAt: bigint): number => Math.round(count / (Number(process.hrtime.bigint() - startedAt) / 1e9));

function messages(count: number): OutgoingMessage[] {
  return Array.from({ length: count }, (_, i) => ({ id: randomUUID(), key: `entity-${i % 1000}`, value: payload }));
}

async function measure(name: string, transport: Transport): Promise<Row> {
  const topic = `bench-${randomUUID()}`;
  await transport.ensureTopics([{ name: topic, partitions }]);
  const all = messages(total);
  let t0 = process.hrtime.bigint();
  // Several publishes in flight, as the API's batching does under load.
  const inFlight = 4;
  for (let i = 0; i < all.length; i += batchSize * inFlight) {
    const waves = [];
    for (let j = 0; j < inFlight; j++) {
      const slice = all.slice(i + j * batchSize, i + (j + 1) * batchSize);
      if (slice.length > 0) waves.push(transport.publish(topic, slice));
    }
    await Promise.all(waves);
  }
  const publishPerSecond = rate(total, t0);

  let seen = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolveDone) => (done = resolveDone));
  t0 = process.hrtime.bigint();
  const subscription = await transport.subscribeBatch(
    topic,
    (batch) => {
      seen += batch.length;
      if (seen >= total) done();
      return Promise.resolve();
    },
    { group: `bench-${randomUUID()}`, maxBatchSize: 1000 },
  );
  await finished;
  const consumePerSecond = rate(total, t0);
  await subscription.close();
  await transport.close();
  return { implementation: name, publishPerSecond, consumePerSecond };
}

async function bareKafka(brokers: string[]): Promise<Row> {
  const topic = `bench-bare-${randomUUID()}`;
  const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: brokers });
  await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
  await admin.close();
  const producer = new Producer({ clientId: 'bench-bare', bootstrapBrokers: brokers, serializers: stringSerializers, idempotent: true, acks: -1 });
  const value = payload.toString();
  // The client's idempotent producer must have one send in flight (concurrent sends reach the
  // broker out of sequence), so the baseline sends the same 4 × 500 records as one request.
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i += batchSize * 4) {
    const count = Math.min(batchSize * 4, total - i);
    await producer.send({ messages: Array.from({ length: count }, (_, k) => ({ topic, key: `entity-${(i + k) % 1000}`, value })) });
  }
  const publishPerSecond = rate(total, t0);
  await producer.close();

  const consumer = new Consumer({ clientId: 'bench-bare', groupId: `bench-${randomUUID()}`, bootstrapBrokers: brokers, autocommit: false });
  t0 = process.hrtime.bigint();
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  let seen = 0;
  for await (const message of stream) {
    void message;
    if (++seen >= total) break;
  }
  const consumePerSecond = rate(total, t0);
  await stream.close();
  await consumer.close();
  return { implementation: 'bare @platformatic/kafka (no commits)', publishPerSecond, consumePerSecond };
}

async function barePostgres(dsn: string): Promise<Row> {
  const pool = new pg.Pool({ connectionString: dsn, max: 4 });
  const table = `bench_${randomUUID().replaceAll('-', '')}`;
  await pool.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, key text, value bytea)`);
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i += batchSize * 4) {
    const waves = [];
    for (let j = 0; j < 4; j++) {
      const count = Math.min(batchSize, total - i - j * batchSize);
      if (count <= 0) continue;
      const keys = Array.from({ length: count }, (_, k) => `entity-${(i + k) % 1000}`);
      waves.push(pool.query(`INSERT INTO ${table} (key, value) SELECT k, $2 FROM unnest($1::text[]) AS k`, [keys, payload]));
    }
    await Promise.all(waves);
  }
  const publishPerSecond = rate(total, t0);
  t0 = process.hrtime.bigint();
  let last = 0;
  for (;;) {
    const { rows } = await pool.query<{ id: string }>(`SELECT id, key, value FROM ${table} WHERE id > $1 ORDER BY id LIMIT 1000`, [last]);
    if (rows.length === 0) break;
    last = Number(rows[rows.length - 1]!.id);
  }
  const consumePerSecond = rate(total, t0);
  await pool.query(`DROP TABLE ${table}`);
  await pool.end();
  return { implementation: 'bare pg (multi-row INSERT, keyset SELECT)', publishPerSecond, consumePerSecond };
}

async function main(): Promise<void> {
  const services = await up({ requireKafka: true });
  try {
    const brokers = services.kafkaBrokers!.split(',');
    const rows: Row[] = [];
    rows.push(await measure('memory (not durable)', new MemoryTransport()));
    rows.push(await bareKafka(brokers));
    rows.push(await measure('kafka', createKafkaTransport({ brokers, clientId: 'bench' })));
    rows.push(await barePostgres(services.postgresDsn));
    const schema = `bench_log_${randomUUID().replaceAll('-', '')}`;
    rows.push(await measure('postgres log', createPostgresTransport({ connectionString: services.postgresDsn, schema })));
    const cleanup = new pg.Client({ connectionString: services.postgresDsn });
    await cleanup.connect();
    await cleanup.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await cleanup.end();

    console.log(`\n${total.toLocaleString('en')} messages of 1 KiB, ${partitions} partitions, publish batches of ${batchSize} (4 in flight)\n`);
    console.table(rows.map((r) => ({ implementation: r.implementation, 'published msg/s': r.publishPerSecond, 'consumed msg/s': r.consumePerSecond })));
    const kafka = rows.find((r) => r.implementation === 'kafka')!;
    const bare = rows.find((r) => r.implementation.startsWith('bare @platformatic'))!;
    console.log(`kafka / bare client: publish ${(kafka.publishPerSecond / bare.publishPerSecond).toFixed(2)}x, consume ${(kafka.consumePerSecond / bare.consumePerSecond).toFixed(2)}x`);
    const log = rows.find((r) => r.implementation === 'postgres log')!;
    const barePg = rows.find((r) => r.implementation.startsWith('bare pg'))!;
    console.log(`postgres log / bare pg: publish ${(log.publishPerSecond / barePg.publishPerSecond).toFixed(2)}x, consume ${(log.consumePerSecond / barePg.consumePerSecond).toFixed(2)}x`);
    const dir = join(repoRoot, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'transport.json'), `${JSON.stringify({ date: new Date().toISOString(), total, rows }, null, 2)}\n`);
  } finally {
    await down(services.started);
  }
}

await main();
