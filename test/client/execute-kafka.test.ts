/**
 * The client end to end: a real API (buildApi, listening on 127.0.0.1) producing to Kafka, a DB
 * worker applying to PostgreSQL, and the client calling it over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { buildApi } from '../../src/apps/api/build.ts';
import { ResultWaiter } from '../../src/apps/api/events.ts';
import { createDbWorker, type DbWorker } from '../../src/apps/db-worker/worker.ts';
import { createClient, KitsuneClientError } from '../../src/client/index.ts';
import type { Transport } from '../../src/transport/types.ts';
import { createDatabase } from '../support/database.ts';
import { kafkaSkip } from '../support/services.ts';
import { freshTopics, openDatabase, openKafka, registry as loadRegistry, silentLogger } from '../apps/db-worker/support.ts';

/** What the shipped registry's commands take, for compile-time checks of execute(). */
type Commands = {
  create_user: { name: string; email: string };
  delete_user: { id: string | number };
};

describe('client against a real API, Kafka and the DB worker', { skip: kafkaSkip }, () => {
  const topics = freshTopics();
  let drop: () => Promise<void>;
  let pool: pg.Pool;
  let transport: Transport;
  let worker: DbWorker;
  let app: FastifyInstance;
  let baseUrl: string;

  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = await openDatabase(database.dsn);
    transport = await openKafka(topics);
    const registry = await loadRegistry();
    worker = createDbWorker({ transport, pool, registry, topics, group: `client-${topics.dbEvents}`, logger: silentLogger });
    await worker.start();
    app = await buildApi({
      registry,
      publisher: transport,
      topics: { dbEvents: topics.dbEvents, appLogs: topics.dbResults },
      limits: { bodyLimitBytes: 65_536, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 10, publishTimeoutMs: 30_000 },
      results: new ResultWaiter(pool),
      logger: false,
    });
    baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app.close();
    await worker.stop();
    await transport.close();
    await pool.end();
    await drop();
  });

  test('execute with wait returns the accepted event and its result, with the new row', async () => {
    const client = createClient<Commands>({ baseUrl, source: 'client-test' });
    const answer = await client.execute('create_user', { name: 'Ada', email: 'ada@client.example' }, { wait: 10, log: { level: 'INFO', message: 'signup' } });
    assert.equal(answer.status, 'accepted');
    assert.equal(answer.links.self, `/events/${answer.id}`);
    assert.equal(answer.result?.status, 'succeeded');
    assert.equal(answer.result?.source, 'client-test');
    const row = answer.result?.result?.rows[0] as { id: string; email: string } | undefined;
    assert.equal(row?.email, 'ada@client.example');
    const { rows } = await pool.query<{ id: string }>('SELECT id FROM users WHERE email = $1', ['ada@client.example']);
    assert.deepEqual(rows, [{ id: row?.id }]);
  });

  test('the same idempotency key twice is one event and one row', async () => {
    const client = createClient<Commands>({ baseUrl });
    const first = await client.execute('create_user', { name: 'Grace', email: 'grace@client.example' }, { idempotencyKey: 'signup-grace', wait: 10 });
    const second = await client.execute('create_user', { name: 'Grace', email: 'grace@client.example' }, { idempotencyKey: 'signup-grace', wait: 10 });
    assert.equal(second.id, first.id);
    assert.equal(second.result?.status, 'succeeded', 'the original result is kept');
    const { rows } = await pool.query('SELECT 1 FROM users WHERE email = $1', ['grace@client.example']);
    assert.equal(rows.length, 1);
  });

  test('a payload the registry rejects fails with invalid_payload and the field, without retrying', async () => {
    const client = createClient<Commands>({ baseUrl });
    const error = await client.execute('create_user', { name: 'X', email: 'not-an-email' }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof KitsuneClientError);
    assert.equal(error.code, 'invalid_payload');
    assert.equal(error.status, 422);
    assert.equal(error.field, '/payload/email');
    assert.equal(error.attempts, 1);
  });

  test('a constraint violation comes back as a dead-lettered result with its SQLSTATE', async () => {
    const client = createClient<Commands>({ baseUrl });
    await client.execute('create_user', { name: 'Lin', email: 'lin@client.example' }, { wait: 10 });
    const again = await client.execute('create_user', { name: 'Lin 2', email: 'lin@client.example' }, { wait: 10 });
    assert.equal(again.result?.status, 'dead_lettered');
    assert.equal(again.result?.error?.sqlstate, '23505');
  });
});
