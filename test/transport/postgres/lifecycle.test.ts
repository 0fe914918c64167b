import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ErrorCodes } from '../../../src/errors.ts';
import { createPostgresTransport } from '../../../src/transport/postgres/index.ts';
import { background } from '../../support/background.ts';
import { postgresDsn } from '../../support/services.ts';
import { fresh, logFixture, message, waitFor } from './helpers.ts';

test('several processes using a new schema at once create it without error', async (t) => {
  const log = logFixture(t);
  const transports = Array.from({ length: 6 }, () => log.open());
  const topic = fresh('race');
  await Promise.all(transports.map((transport) => transport.ensureTopics([{ name: topic, partitions: 3 }])));
  const { rows } = await log.admin.query<{ count: string }>(`SELECT count(*) FROM ${log.table('partitions')} WHERE topic = $1`, [topic]);
  assert.equal(rows[0]?.count, '3');
});

test('ensureTopics leaves an existing topic’s partition count alone', async (t) => {
  const log = logFixture(t);
  const transport = log.open();
  const topic = fresh('existing');
  await transport.ensureTopics([{ name: topic, partitions: 2 }]);
  await log.open().ensureTopics([{ name: topic, partitions: 5 }]);
  const { rows } = await log.admin.query<{ partitions: number }>(`SELECT partitions FROM ${log.table('topics')} WHERE name = $1`, [topic]);
  assert.equal(rows[0]?.partitions, 2);
});

test('close ends a pool the transport created, and leaves no connection behind', async (t) => {
  const log = logFixture(t);
  const applicationName = fresh('owned').slice(0, 40);
  const dsn = new URL(postgresDsn());
  dsn.searchParams.set('application_name', applicationName);
  const transport = createPostgresTransport({ connectionString: dsn.href, schema: log.schema, onError: () => undefined });
  const topic = fresh('owned');
  await transport.subscribe(topic, () => Promise.resolve(), { group: fresh('g') });
  await transport.publish(topic, [message(1)]);
  const before = await log.admin.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
  assert.ok((before.rowCount ?? 0) >= 2, 'its pool and its listener are connected');
  await transport.close();
  await waitFor(
    async () => (await log.admin.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [applicationName])).rowCount === 0,
    30_000,
    () => 'its connections to close',
  );
});

test('close leaves a pool it was given open, and releases the group for the next member', async (t) => {
  const log = logFixture(t);
  const pool = new pg.Pool({ connectionString: postgresDsn(), max: 4 });
  t.after(() => pool.end());
  const transport = createPostgresTransport({ pool, schema: log.schema, onError: () => undefined });
  const topic = fresh('given');
  const group = fresh('g');
  await transport.subscribe(topic, () => Promise.resolve(), { group });
  await transport.close();
  await transport.close();
  assert.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
  const leases = await log.admin.query(`SELECT 1 FROM ${log.table('leases')} WHERE group_name = $1`, [group]);
  const members = await log.admin.query(`SELECT 1 FROM ${log.table('members')} WHERE group_name = $1`, [group]);
  assert.equal(leases.rowCount, 0, 'leases released');
  assert.equal(members.rowCount, 0, 'membership left');
  await assert.rejects(transport.publish(topic, [message(2)]), { code: ErrorCodes.TRANSPORT_CLOSED });
  await assert.rejects(transport.deleteExpiredMessages(), { code: ErrorCodes.TRANSPORT_CLOSED });
});

test('close lets a publish in flight finish', async (t) => {
  const log = logFixture(t);
  const transport = log.open();
  const topic = fresh('inflight');
  await transport.ensureTopics([{ name: topic, partitions: 1 }]);
  const publishing = background(transport.publish(topic, Array.from({ length: 200 }, (_, i) => message(i))));
  await transport.close();
  await publishing;
  const { rows } = await log.admin.query<{ count: string }>(`SELECT count(*) FROM ${log.table('messages')} WHERE topic = $1`, [topic]);
  assert.equal(rows[0]?.count, '200');
});

test('a subscription closed on its own commits what its handler finished and keeps the transport usable', async (t) => {
  const log = logFixture(t);
  const transport = log.open();
  const topic = fresh('sub-close');
  const group = fresh('g');
  let handled = 0;
  const subscription = await transport.subscribe(topic, async () => {
    await sleep(50);
    handled++;
  }, { group });
  await transport.publish(topic, [message(1), message(2)]);
  await waitFor(() => handled >= 1, 30_000, () => 'a handler to finish');
  await subscription.close();
  const { rows } = await log.admin.query<{ next_offset: string }>(
    `SELECT next_offset FROM ${log.table('offsets')} WHERE group_name = $1`,
    [group],
  );
  assert.equal(rows[0]?.next_offset, String(handled));
  await transport.publish(topic, [message(3)]);
});

test('invalid options are reported together, each with its field', () => {
  assert.throws(
    () => createPostgresTransport({ connectionString: postgresDsn(), schema: 'Bad-Name', leaseTtlMs: -1, retention: { batchSize: 0 } }),
    (error: { code?: string; message: string }) => {
      assert.equal(error.code, ErrorCodes.INVALID_CONFIG);
      for (const field of ['schema', 'leaseTtlMs', 'retention.batchSize']) assert.match(error.message, new RegExp(field.replace('.', '\\.')));
      return true;
    },
  );
});
