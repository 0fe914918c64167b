/**
 * Records that another producer could write to db-events, which PostgreSQL cannot store as text:
 * each must be dead-lettered with its reason, and the next event of the same entity (same key,
 * same partition) must still run. On both engines: Kafka, and the Postgres log of embedded mode.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { createDbWorker, type DbWorker } from '../../../src/apps/db-worker/worker.ts';
import { encodeEvent, type CommandEvent } from '../../../src/events/envelope.ts';
import { dlqHeaders } from '../../../src/transport/dead-letter.ts';
import type { ReceivedMessage, Transport } from '../../../src/transport/types.ts';
import { createDatabase } from '../../support/database.ts';
import { kafkaSkip } from '../../support/services.ts';
import { collect, createUserEvent, freshTopics, openDatabase, openTransport, registry, silentLogger, waitFor, type TransportKind } from './support.ts';

type Mutation = { field: string; apply: (event: CommandEvent) => void };

const poisons: Mutation[] = [
  { field: 'metadata.source', apply: (e) => void (e.metadata.source = 'user\u0000service') },
  { field: 'metadata.idempotency_key', apply: (e) => void (e.metadata.idempotency_key = 'key\u0000') },
  { field: 'command', apply: (e) => void (e.command = 'create_user\u0000') },
  { field: 'version', apply: (e) => void (e.version = '\u00001') },
  { field: 'metadata.source', apply: (e) => void (e.metadata.source = 'lone \uD800 surrogate') },
];

for (const kind of ['kafka', 'postgres'] as const satisfies readonly TransportKind[]) {
  describe(`DB worker on ${kind === 'kafka' ? 'Kafka' : 'the Postgres log'}: records PostgreSQL cannot store`, { skip: kind === 'kafka' ? kafkaSkip : false }, () => {
    const topics = freshTopics();
    let drop: () => Promise<void>;
    let pool: pg.Pool;
    let transport: Transport;
    let worker: DbWorker;
    let dlq: ReceivedMessage[];

    const statusOf = async (id: string): Promise<string | undefined> =>
      (await pool.query<{ status: string }>('SELECT status FROM kitsune.event_results WHERE event_id = $1', [id])).rows[0]?.status;

    before(async () => {
      const database = await createDatabase();
      drop = database.drop;
      pool = await openDatabase(database.dsn);
      transport = await openTransport(kind, pool, topics);
      worker = createDbWorker({ transport, pool, registry: await registry(), topics, group: `db-worker-${topics.dbEvents}`, logger: silentLogger });
      await worker.start();
      dlq = await collect(transport, `${topics.dbEvents}.dlq`);
    });
    after(async () => {
      await worker.stop();
      await transport.close();
      await pool.end();
      await drop();
    });

    for (const { field, apply } of poisons) {
      test(`'${poisonOf(apply, field)}' in ${field} is dead-lettered with its reason; the next event of its entity succeeds`, async () => {
        const email = `${randomUUID()}@example.com`;
        const bad = createUserEvent(email);
        apply(bad);
        const good = createUserEvent(email);
        await transport.publish(topics.dbEvents, [
          { id: bad.id, key: email, value: encodeEvent(bad) },
          { id: good.id, key: email, value: encodeEvent(good) },
        ]);
        await waitFor(`the good event after the bad one (${good.id}) to succeed`, 30_000, async () => ((await statusOf(good.id)) === 'succeeded' ? true : undefined));
        const letter = await waitFor(`the bad event ${bad.id} in the DLQ`, 10_000, () => dlq.find((m) => m.id === bad.id));
        assert.match(letter.headers[dlqHeaders.reason] ?? '', new RegExp(field.replace('.', '\\.')), 'the reason names the field');
        assert.equal(letter.headers[dlqHeaders.code], 'KITSUNE_INVALID_MESSAGE');
        assert.ok(letter.value.equals(encodeEvent(bad)), 'the DLQ keeps the original bytes');
        assert.equal(await statusOf(bad.id), 'dead_lettered', 'its outcome is stored for GET /events/:id');
      });
    }
  });
}

/** The offending value, for the test's name. */
function poisonOf(apply: (event: CommandEvent) => void, field: string): string {
  const event = createUserEvent('probe@example.com');
  apply(event);
  const [head, tail] = field.split('.') as [keyof CommandEvent, string | undefined];
  const value = tail ? (event[head] as Record<string, unknown>)[tail] : event[head];
  return String(value).replace('\u0000', 'NUL').replace('\uD800', 'U+D800');
}
