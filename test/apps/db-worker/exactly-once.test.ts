import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { buildApi } from '../../../src/apps/api/build.ts';
import { ResultWaiter } from '../../../src/apps/api/events.ts';
import { createDbWorker, type DbWorker } from '../../../src/apps/db-worker/worker.ts';
import type { Registry } from '../../../src/commands/index.ts';
import { dlqHeaders } from '../../../src/transport/dead-letter.ts';
import type { ReceivedMessage, Transport } from '../../../src/transport/types.ts';
import { createDatabase } from '../../support/database.ts';
import { kafkaSkip } from '../../support/services.ts';
import {
  collect,
  createUserEvent,
  freshTopics,
  openDatabase,
  openKafka,
  publishEvents,
  registry as loadTestRegistry,
  silentLogger,
  waitFor,
} from './support.ts';

describe('DB worker on Kafka and PostgreSQL', { skip: kafkaSkip }, () => {
  const topics = freshTopics();
  let drop: () => Promise<void>;
  let pool: pg.Pool;
  let transport: Transport;
  let registry: Registry;
  let worker: DbWorker;
  let dlq: ReceivedMessage[];
  let results: ReceivedMessage[];

  const userCount = async (email: string): Promise<number> =>
    Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM users WHERE email = $1', [email])).rows[0]?.n);
  type StoredResult = { status: string; result_rows: Array<{ id: string }>; error: { sqlstate?: string } | null };
  const resultOf = (id: string): Promise<StoredResult | undefined> =>
    pool.query<StoredResult>('SELECT status, result_rows, error FROM kitsune.event_results WHERE event_id = $1', [id]).then((r) => r.rows[0]);

  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = await openDatabase(database.dsn);
    transport = await openKafka(topics);
    registry = await loadTestRegistry();
    worker = createDbWorker({ transport, pool, registry, topics, group: `db-worker-${topics.dbEvents}`, logger: silentLogger });
    await worker.start();
    dlq = await collect(transport, `${topics.dbEvents}.dlq`);
    results = await collect(transport, topics.dbResults);
  });
  after(async () => {
    await worker.stop();
    await transport.close();
    await pool.end();
    await drop();
  });

  test('create_user through the API makes a row, and GET /events/:id?wait=5 shows succeeded with the new id', async (t) => {
    const app = await buildApi({
      registry,
      publisher: transport,
      topics: { dbEvents: topics.dbEvents, appLogs: topics.dbResults },
      limits: { bodyLimitBytes: 65_536, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 10, publishTimeoutMs: 30_000 },
      results: new ResultWaiter(pool),
      logger: false,
    });
    t.after(() => app.close());
    const accepted = await app.inject({
      method: 'POST',
      url: '/execute',
      headers: { 'content-type': 'application/json' },
      payload: { command: 'create_user', version: '1', payload: { name: 'Ada', email: 'ada@example.com' } },
    });
    assert.equal(accepted.statusCode, 202, accepted.body);
    const { id } = accepted.json<{ id: string }>();
    const response = await app.inject({ method: 'GET', url: `/events/${id}?wait=5` });
    const view = response.json<{ status: string; result: { rows: Array<{ id: string; email: string }>; rows_affected: number } }>();
    assert.equal(view.status, 'succeeded', response.body);
    assert.equal(view.result.rows_affected, 1);
    const { rows } = await pool.query<{ id: string }>('SELECT id FROM users WHERE email = $1', ['ada@example.com']);
    assert.equal(view.result.rows[0]?.id, rows[0]?.id, 'the result carries the new id');
  });

  test('one event delivered ten times makes one row; the copies are duplicates', async () => {
    const event = createUserEvent('ten-times@example.com');
    for (let i = 0; i < 10; i++) await publishEvents(transport, topics.dbEvents, [event]);
    await waitFor('ten outcomes', 20_000, () => (results.filter((r) => r.key === event.id).length >= 10 ? true : undefined));
    assert.equal(await userCount('ten-times@example.com'), 1);
    const statuses = results.filter((r) => r.key === event.id).map((r) => (JSON.parse(r.value.toString()) as { status: string }).status);
    assert.deepEqual(statuses.sort(), ['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'succeeded']);
    const { rows } = await pool.query('SELECT 1 FROM kitsune.idempotency_log WHERE event_id = $1', [event.id]);
    assert.equal(rows.length, 1);
  });

  test('the same key with a different payload is a conflict and has no effect', async () => {
    const original = createUserEvent('keyed@example.com', { metadata: { idempotency_key: 'shared-key', timestamp: new Date().toISOString(), source: 'test' } });
    await publishEvents(transport, topics.dbEvents, [original]);
    await waitFor('the original to succeed', 20_000, async () => ((await resultOf(original.id))?.status === 'succeeded' ? true : undefined));
    const changed = { ...original, payload: { name: 'Someone else', email: 'other@example.com' } };
    await publishEvents(transport, topics.dbEvents, [changed]);
    const conflict = await waitFor('the conflict outcome', 20_000, () =>
      results.map((r) => JSON.parse(r.value.toString()) as { event_id: string; status: string }).find((r) => r.event_id === original.id && r.status === 'conflict'),
    );
    assert.equal(conflict.status, 'conflict');
    assert.equal(await userCount('other@example.com'), 0, 'the conflicting payload was not applied');
    assert.equal((await resultOf(original.id))?.status, 'succeeded', 'the original result is kept');
    const { rows } = await pool.query('SELECT payload FROM kitsune.event_conflicts WHERE event_id = $1', [original.id]);
    assert.deepEqual(rows.map((r: { payload: unknown }) => r.payload), [changed.payload]);
  });

  test('a conflicting record delivered again is recorded once in event_conflicts; another conflicting payload is a second row', async () => {
    const original = createUserEvent('conflict-once@example.com', { metadata: { idempotency_key: 'conflict-once', timestamp: new Date().toISOString(), source: 'test' } });
    await publishEvents(transport, topics.dbEvents, [original]);
    await waitFor('the original to succeed', 20_000, async () => ((await resultOf(original.id))?.status === 'succeeded' ? true : undefined));
    const changed = { ...original, payload: { name: 'Changed', email: 'conflict-once@example.com' } };
    const changedAgain = { ...original, payload: { name: 'Changed again', email: 'conflict-once@example.com' } };
    // The same conflicting record three times (as a producer's retries or a redelivery bring it), then another.
    for (const event of [changed, changed, changed, changedAgain]) await publishEvents(transport, topics.dbEvents, [event]);
    await waitFor('four conflict outcomes', 30_000, () => {
      const conflicts = results.map((r) => JSON.parse(r.value.toString()) as { event_id: string; status: string }).filter((r) => r.event_id === original.id && r.status === 'conflict');
      return conflicts.length >= 4 ? true : undefined;
    });
    const { rows } = await pool.query<{ payload: { name: string } }>('SELECT payload FROM kitsune.event_conflicts WHERE event_id = $1 ORDER BY id', [original.id]);
    assert.deepEqual(rows.map((r) => r.payload.name), ['Changed', 'Changed again'], 'one row per conflicting payload, however often it arrives');
  });

  test('a payload violating a table constraint goes to the DLQ with its SQLSTATE; later events of other entities apply', async () => {
    const before = createUserEvent('dup-email@example.com');
    await publishEvents(transport, topics.dbEvents, [before]);
    await waitFor('the first user', 20_000, async () => ((await resultOf(before.id))?.status === 'succeeded' ? true : undefined));
    // Same email, another event: the unique constraint fails with 23505.
    const violating = createUserEvent('dup-email@example.com');
    const others = Array.from({ length: 5 }, (_, i) => createUserEvent(`after-${i}@example.com`));
    await publishEvents(transport, topics.dbEvents, [violating, ...others]);
    const dead = await waitFor('the dead letter', 20_000, () => dlq.find((m) => m.id === violating.id));
    assert.equal(dead.headers[dlqHeaders.sqlstate], '23505');
    assert.match(dead.headers[dlqHeaders.reason] ?? '', /unique|duplicate/i);
    assert.equal(dead.headers[dlqHeaders.sourceTopic], topics.dbEvents);
    assert.ok(dead.headers[dlqHeaders.sourceOffset], 'the source offset is recorded');
    assert.ok(Number(dead.headers[dlqHeaders.attempts]) >= 1);
    assert.equal(dead.value.toString(), JSON.stringify(violating), 'the original bytes are unchanged');
    for (const other of others) {
      await waitFor(`${other.payload.email as string}`, 20_000, async () => ((await resultOf(other.id))?.status === 'succeeded' ? true : undefined));
    }
    const stored = await resultOf(violating.id);
    assert.equal(stored?.status, 'dead_lettered');
    assert.equal(stored?.error?.sqlstate, '23505');
    assert.equal(dlq.filter((m) => m.id === violating.id).length, 1, 'exactly one DLQ record');
  });

  test('a malformed record and an unknown command are dead-lettered with their reason, never dropped', async () => {
    await transport.publish(topics.dbEvents, [{ id: 'not-json-1', key: 'x', value: Buffer.from('{not json') }]);
    const unknown = createUserEvent('unknown@example.com', { command: 'drop_everything' });
    await publishEvents(transport, topics.dbEvents, [unknown]);
    const bad = await waitFor('the malformed record in the DLQ', 20_000, () => dlq.find((m) => m.id === 'not-json-1'));
    assert.match(bad.headers[dlqHeaders.reason] ?? '', /not JSON/);
    const unknownDead = await waitFor('the unknown command in the DLQ', 20_000, () => dlq.find((m) => m.id === unknown.id));
    assert.match(unknownDead.headers[dlqHeaders.reason] ?? '', /unknown command 'drop_everything' version '1'/);
  });
});
