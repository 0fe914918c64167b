/**
 * With a schema registry: the API names each db-events record's schema id (header, or Confluent's
 * wire format), and the DB worker applies records that match the schema they name and
 * dead-letters, with the validation error, those that do not. Real Kafka, PostgreSQL and registry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { buildApi } from '../../src/apps/api/build.ts';
import { createDbWorker, type DbWorker } from '../../src/apps/db-worker/worker.ts';
import type { Registry } from '../../src/commands/index.ts';
import { encodeEvent, eventHeaders } from '../../src/events/envelope.ts';
import { schemaIdHeader, unframe } from '../../src/events/wire-format.ts';
import { openSchemaRegistry, type SchemaRegistryRuntime } from '../../src/schema-registry/index.ts';
import { dlqHeaders } from '../../src/transport/dead-letter.ts';
import type { ReceivedMessage, Transport } from '../../src/transport/types.ts';
import { createDatabase } from '../support/database.ts';
import { kafkaSkip, schemaRegistrySkip, schemaRegistryUrl } from '../support/services.ts';
import { collect, createUserEvent, freshTopics, openDatabase, openKafka, registry as shippedRegistry, silentLogger, waitFor } from '../apps/db-worker/support.ts';

const skip = kafkaSkip || schemaRegistrySkip();

for (const wireFormat of ['header', 'confluent'] as const) {
  describe(`DB worker and API with a schema registry (${wireFormat} wire format)`, { skip }, () => {
    const topics = freshTopics();
    let drop: () => Promise<void>;
    let pool: pg.Pool;
    let transport: Transport;
    let registry: Registry;
    let schemas: SchemaRegistryRuntime;
    let worker: DbWorker;
    let events: ReceivedMessage[];
    let dlq: ReceivedMessage[];

    type Stored = { status: string; error: { reason: string; code: string } | null };
    const resultOf = (id: string): Promise<Stored | undefined> =>
      pool.query<Stored>('SELECT status, error FROM kitsune.event_results WHERE event_id = $1', [id]).then((r) => r.rows[0]);
    const settled = (id: string): Promise<Stored> => waitFor(`the result of ${id}`, 30_000, () => resultOf(id));

    before(async () => {
      const database = await createDatabase();
      drop = database.drop;
      pool = await openDatabase(database.dsn);
      transport = await openKafka(topics);
      registry = await shippedRegistry();
      schemas = await openSchemaRegistry({ url: schemaRegistryUrl(), username: undefined, password: undefined, wireFormat, timeoutMs: 10_000 }, registry, topics.dbEvents);
      worker = createDbWorker({ transport, pool, registry, topics, group: `db-worker-${topics.dbEvents}`, logger: silentLogger, checkEvents: schemas.check });
      await worker.start();
      events = await collect(transport, topics.dbEvents);
      dlq = await collect(transport, `${topics.dbEvents}.dlq`);
    });
    after(async () => {
      await worker.stop();
      await transport.close();
      await pool.end();
      await drop();
    });

    test('the API names the schema id of every db-events record, and the worker applies it', async (t) => {
      const app = await buildApi({
        registry,
        publisher: transport,
        topics: { dbEvents: topics.dbEvents, appLogs: topics.dbResults },
        limits: { bodyLimitBytes: 65_536, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 10, publishTimeoutMs: 5_000 },
        stampDbRecord: schemas.stamp,
        logger: false,
      });
      t.after(() => app.close());
      const email = `${wireFormat}-api@example.com`;
      const accepted = await app.inject({
        method: 'POST',
        url: '/execute',
        headers: { 'content-type': 'application/json' },
        payload: { command: 'create_user', version: '1', payload: { name: 'Ada', email } },
      });
      assert.equal(accepted.statusCode, 202, accepted.body);
      const { id } = accepted.json<{ id: string }>();
      assert.equal((await settled(id)).status, 'succeeded');

      const expectedId = schemas.registration.schemas.get('create_user\u00001')!.id;
      const published = await waitFor('the record on db-events', 10_000, () => events.find((m) => m.id === id));
      assert.equal(published.headers[schemaIdHeader], String(expectedId));
      const framed = unframe(published.value);
      if (wireFormat === 'confluent') {
        assert.equal(framed?.schemaId, expectedId);
        assert.equal((JSON.parse(framed.json.toString()) as { id: string }).id, id);
      } else {
        assert.equal(framed, undefined, 'the value stays plain JSON');
        assert.equal((JSON.parse(published.value.toString()) as { id: string }).id, id);
      }
    });

    test('a record from another producer that breaks the schema it names is dead-lettered with the validation error', async () => {
      const schemaId = schemas.registration.schemas.get('create_user\u00001')!.id;
      const bad = createUserEvent(`${wireFormat}-bad`); // not an email
      const good = createUserEvent(`${wireFormat}-good@example.com`);
      await transport.publish(
        topics.dbEvents,
        [bad, good].map((event) => ({
          id: event.id,
          key: String(event.payload.email),
          value: encodeEvent(event),
          headers: { [eventHeaders.command]: event.command, [eventHeaders.version]: event.version, [schemaIdHeader]: String(schemaId) },
        })),
      );
      const badResult = await settled(bad.id);
      assert.equal(badResult.status, 'dead_lettered');
      assert.equal(badResult.error?.reason, `does not match its schema (id ${schemaId}): /payload/email must match format "email"`);
      const letter = await waitFor('the dead letter', 10_000, () => dlq.find((m) => m.key === String(bad.payload.email)));
      assert.equal(letter.headers[dlqHeaders.reason], badResult.error?.reason);
      assert.equal(letter.headers[dlqHeaders.code], 'KITSUNE_INVALID_MESSAGE');
      assert.equal((await settled(good.id)).status, 'succeeded');
    });
  });
}
