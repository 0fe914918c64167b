/**
 * With API keys on, reads need a key and a key reads its own source's events and lines only;
 * another source's event id answers 404, like one that never existed. Event ids are keyed by the
 * installation's secret, kept in PostgreSQL, so two API processes of one installation derive the
 * same id for a retried command.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry as MetricsRegistry } from 'prom-client';
import { hashKey, parseApiKeys } from '../../../src/apps/api/api-keys.ts';
import { ResultWaiter } from '../../../src/apps/api/events.ts';
import { eventIdSecret } from '../../../src/db/installation.ts';
import { EventIds } from '../../../src/events/event-ids.ts';
import { suitePool } from '../../support/database.ts';
import { openDatabase } from '../db-worker/support.ts';
import { createUser, memoryApi, type ErrorAnswer } from './support.ts';

const keys = parseApiKeys(
  [
    'keys:',
    `  - { name: billing, sha256: ${hashKey('key-billing')}, source: billing-service, commands: ["*"] }`,
    `  - { name: payroll, sha256: ${hashKey('key-payroll')}, source: payroll-service, commands: ["*"] }`,
  ].join('\n'),
  'test',
);
const billing = { authorization: 'Bearer key-billing' };
const payroll = { 'x-api-key': 'key-payroll' };

describe('keyed, scoped reads against real PostgreSQL', () => {
  const database = suitePool(openDatabase);

  async function keyedApi(t: Parameters<typeof memoryApi>[0]): Promise<Awaited<ReturnType<typeof memoryApi>>> {
    const pool = database();
    const results = new ResultWaiter(pool, { listen: false });
    const eventIds = new EventIds(await eventIdSecret(undefined, pool));
    return memoryApi(t, { apiKeys: keys, results, logs: pool, eventIds, metrics: new MetricsRegistry(), metricsRequireKey: true });
  }

  async function storeResult(id: string, source: string): Promise<void> {
    await database().query(
      `INSERT INTO kitsune.event_results (event_id, status, command, version, source, idempotency_key, result_rows, rows_affected, attempts)
       VALUES ($1::uuid, 'succeeded', 'create_user', '1', $2, $1::text, '[{"id":"1"}]', 1, 1)`,
      [id, source],
    );
  }

  test('GET /events/:id, with and without wait: 401 without a key, 404 for another source, 200 for its own', async (t) => {
    const { app } = await keyedApi(t);
    const accepted = await app.inject({ method: 'POST', url: '/execute', headers: { ...billing, 'content-type': 'application/json', 'idempotency-key': 'order-1' }, payload: JSON.stringify(createUser('a@example.com')) });
    assert.equal(accepted.statusCode, 202, accepted.body);
    const { id } = accepted.json<{ id: string }>();
    await storeResult(id, 'billing-service');
    for (const query of ['', '?wait=0.5']) {
      const url = `/events/${id}${query}`;
      const anonymous = await app.inject({ url });
      assert.equal(anonymous.statusCode, 401, url);
      assert.equal(anonymous.json<ErrorAnswer>().error.code, 'unauthorized');
      const other = await app.inject({ url, headers: payroll });
      assert.equal(other.statusCode, 404, `${url}: ${other.body}`);
      assert.equal(other.json<ErrorAnswer>().error.code, 'not_found');
      const own = await app.inject({ url, headers: billing });
      assert.equal(own.statusCode, 200, own.body);
      assert.deepEqual(own.json<{ status: string; source: string }>().status, 'succeeded');
    }
    const neverIssued = await app.inject({ url: '/events/0192f4c1-7a3e-7d10-9b2c-3f4a5b6c7d8e', headers: billing });
    assert.equal(neverIssued.statusCode, 404, 'an id this installation never issued reads like another source\'s');
    assert.equal(neverIssued.body.replace(/0192f4c1-7a3e-7d10-9b2c-3f4a5b6c7d8e/, id), (await app.inject({ url: `/events/${id}`, headers: payroll })).body, 'the two 404s say the same');
  });

  test('an event of its own source that has no outcome yet reads as pending', async (t) => {
    const { app } = await keyedApi(t);
    const accepted = await app.inject({ method: 'POST', url: '/execute', headers: { ...payroll, 'content-type': 'application/json' }, payload: JSON.stringify(createUser('p@example.com')) });
    const { id } = accepted.json<{ id: string }>();
    const own = await app.inject({ url: `/events/${id}`, headers: payroll });
    assert.equal(own.statusCode, 200);
    assert.deepEqual(own.json(), { id, status: 'pending' });
  });

  test('two API processes of one installation give a retried command the same id', async (t) => {
    const first = await keyedApi(t);
    const second = await keyedApi(t);
    const send = (api: typeof first): Promise<string> =>
      api.app.inject({ method: 'POST', url: '/execute', headers: { ...billing, 'content-type': 'application/json', 'idempotency-key': 'retry-7' }, payload: JSON.stringify(createUser('r@example.com')) })
        .then((response) => response.json<{ id: string }>().id);
    assert.equal(await send(first), await send(second));
  });

  test('GET /logs: 401 without a key, and a key reads its own source\'s lines only', async (t) => {
    const { app } = await keyedApi(t);
    await database().query(
      `INSERT INTO kitsune.logs (event_id, ts, level, command, version, source, message, idempotency_key)
       VALUES ('l1', now(), 'INFO', 'create_user', '1', 'billing-service', 'billing line', 'k1'),
              ('l2', now(), 'INFO', 'create_user', '1', 'payroll-service', 'payroll line', 'k2')`,
    );
    assert.equal((await app.inject({ url: '/logs' })).statusCode, 401);
    const own = await app.inject({ url: '/logs', headers: billing });
    assert.equal(own.statusCode, 200, own.body);
    assert.deepEqual(own.json<{ logs: Array<{ message: string }> }>().logs.map((l) => l.message), ['billing line']);
    const asked = await app.inject({ url: '/logs?source=payroll-service', headers: billing });
    assert.deepEqual(asked.json(), { logs: [], next_cursor: null }, "another source's lines are not there to read");
  });

  test('GET /metrics needs a key when KITSUNE_METRICS_REQUIRE_KEY is set', async (t) => {
    const { app } = await keyedApi(t);
    assert.equal((await app.inject({ url: '/metrics' })).statusCode, 401);
    assert.equal((await app.inject({ url: '/metrics', headers: payroll })).statusCode, 200);
  });
});
