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
    `  - { name: ops, sha256: ${hashKey('key-ops')}, source: ops, commands: ["*"], admin: true }`,
  ].join('\n'),
  'test',
);
const billing = { authorization: 'Bearer key-billing' };
const payroll = { 'x-api-key': 'key-payroll' };
const ops = { authorization: 'Bearer key-ops' };
/** An id in the UUIDv8 layout of issued ids that no installation issued: the tag does not match. */
const neverIssuedId = '0192f4c1-7a3e-8d10-9b2c-3f4a5b6c7d8e';

describe('keyed, scoped reads against real PostgreSQL', () => {
  const database = suitePool(openDatabase);

  async function keyedApi(t: Parameters<typeof memoryApi>[0]): Promise<Awaited<ReturnType<typeof memoryApi>>> {
    const pool = database();
    const results = new ResultWaiter(pool, { listen: false });
    const eventIds = new EventIds(await eventIdSecret(undefined, pool));
    return memoryApi(t, { apiKeys: keys, results, logs: pool, pool, eventIds, metrics: new MetricsRegistry(), metricsRequireKey: true });
  }

  /** POST /execute with `headers`' key: the id issued to that key's source. */
  async function submit(app: Awaited<ReturnType<typeof keyedApi>>['app'], headers: Record<string, string>, email: string): Promise<string> {
    const accepted = await app.inject({ method: 'POST', url: '/execute', headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(createUser(email)) });
    assert.equal(accepted.statusCode, 202, accepted.body);
    return accepted.json<{ id: string }>().id;
  }

  async function storeLine(id: string, source: string, message: string): Promise<void> {
    await database().query(
      `INSERT INTO kitsune.logs (event_id, ts, level, command, version, source, message, idempotency_key)
       VALUES ($1, now(), 'INFO', 'create_user', '1', $2, $3, $1)`,
      [id, source, message],
    );
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

  test('GET /logs: 401 without a key, 404 for another source or its event, 200 for its own', async (t) => {
    const { app } = await keyedApi(t);
    const billingId = await submit(app, billing, 'logs-b@example.com');
    const payrollId = await submit(app, payroll, 'logs-p@example.com');
    await storeLine(billingId, 'billing-service', 'billing line');
    await storeLine(payrollId, 'payroll-service', 'payroll line');
    const get = async (url: string, headers: Record<string, string> = {}) => {
      const response = await app.inject({ url, headers });
      return { status: response.statusCode, body: response.json<{ logs: Array<{ event_id: string; message: string }> } & ErrorAnswer>() };
    };

    for (const url of ['/logs', `/logs?event_id=${billingId}`, '/logs?source=billing-service']) {
      const anonymous = await get(url);
      assert.deepEqual([anonymous.status, anonymous.body.error.code], [401, 'unauthorized'], url);
    }

    // Its own: the line of its event, and its source's lines (never the other source's).
    const ownEvent = await get(`/logs?event_id=${billingId.toUpperCase()}`, billing);
    assert.equal(ownEvent.status, 200, JSON.stringify(ownEvent.body));
    assert.deepEqual(ownEvent.body.logs.map((l) => [l.event_id, l.message]), [[billingId, 'billing line']]);
    const ownSource = await get('/logs?source=billing-service', billing);
    assert.equal(ownSource.status, 200);
    assert.deepEqual(ownSource.body.logs.map((l) => l.message), ['billing line']);
    assert.deepEqual((await get('/logs', billing)).body.logs.map((l) => l.message), ['billing line']);

    // Another source's event, and one never issued: 404, the same answer but for the id.
    const otherEvent = await get(`/logs?event_id=${payrollId}`, billing);
    assert.equal(otherEvent.status, 404);
    assert.deepEqual({ ...otherEvent.body.error, message: undefined }, { code: 'not_found', field: '/event_id', in: 'query', message: undefined });
    const unknownEvent = await get(`/logs?event_id=${neverIssuedId}`, billing);
    assert.equal(unknownEvent.status, 404);
    assert.equal(unknownEvent.body.error.message.replace(neverIssuedId, payrollId), otherEvent.body.error.message, 'the two 404s say the same');
    // The same code and field shape as GET /events/:id says for an id that is not the key's.
    const eventAnswer = await get(`/events/${payrollId}`, billing);
    assert.deepEqual([eventAnswer.status, eventAnswer.body.error.code], [otherEvent.status, otherEvent.body.error.code]);

    // Another source by name, whether it has lines or does not exist at all: 404 alike.
    const otherSource = await get('/logs?source=payroll-service', billing);
    const noSource = await get('/logs?source=no-such-service', billing);
    for (const answer of [otherSource, noSource]) {
      assert.equal(answer.status, 404);
      assert.deepEqual([answer.body.error.code, answer.body.error.field, answer.body.error.in], ['not_found', '/source', 'query']);
    }
    assert.equal(noSource.body.error.message.replace('no-such-service', 'payroll-service'), otherSource.body.error.message);
    // Both at once still say nothing more.
    assert.equal((await get(`/logs?source=billing-service&event_id=${payrollId}`, billing)).status, 404);

    // An admin key reads every source's lines and events.
    assert.deepEqual((await get(`/logs?event_id=${payrollId}`, ops)).body.logs.map((l) => l.message), ['payroll line']);
    assert.deepEqual((await get('/logs?source=payroll-service', ops)).body.logs.map((l) => l.message), ['payroll line']);
    assert.deepEqual((await get(`/logs?event_id=${neverIssuedId}`, ops)).body, { logs: [], next_cursor: null });
  });

  test('the console reads by event id within the key: timeline and search answer 404 for another source, as GET /events/:id does', async (t) => {
    const { app } = await keyedApi(t);
    const billingId = await submit(app, billing, 'console-b@example.com');
    await storeResult(billingId, 'billing-service');
    await storeLine(billingId, 'billing-service', 'billing console line');
    // In flight: no worker has seen it, so no table names its source; the id alone decides.
    const inFlight = await submit(app, payroll, 'console-p@example.com');
    const get = async (url: string, headers: Record<string, string> = {}) => {
      const response = await app.inject({ url, headers });
      return { status: response.statusCode, body: response.json<ErrorAnswer & { status?: string; logs?: Array<{ timestamp: string; message: string }>; events?: Array<{ id: string }> }>() };
    };

    const own = await get(`/events/${billingId}/timeline`, billing);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.status, 'succeeded');
    assert.deepEqual(own.body.logs?.map((l) => l.message), ['billing console line']);
    assert.match(own.body.logs?.[0]?.timestamp ?? '', /^\d{4}-\d\d-\d\dT/, 'the line reads as GET /logs shows it');
    assert.equal((await get(`/events/${billingId}/timeline`)).status, 401);
    for (const id of [billingId, neverIssuedId]) {
      const other = await get(`/events/${id}/timeline`, payroll);
      assert.deepEqual([other.status, other.body.error.code, other.body.error.field, other.body.error.in], [404, 'not_found', '/id', 'path'], id);
    }
    assert.equal((await get(`/events/${inFlight}/timeline`, billing)).status, 404, "another source's event in flight");
    assert.equal((await get(`/events/${inFlight}/timeline`, payroll)).body.status, 'pending', 'its own event in flight');
    assert.equal((await get(`/events/${billingId}/timeline`, ops)).body.status, 'succeeded', 'an admin key reads any');

    const search = await get(`/events?ids=${billingId},${inFlight}`, payroll);
    assert.deepEqual([search.status, search.body.error.code, search.body.error.field], [404, 'not_found', '/ids']);
    assert.deepEqual((await get(`/events?ids=${inFlight}`, payroll)).body.events?.map((e) => e.id), [inFlight]);
    const byKey = await get(`/events?idempotency_key=anything&source=billing-service`, payroll);
    assert.deepEqual([byKey.status, byKey.body.error.code, byKey.body.error.field], [404, 'not_found', '/source']);
    assert.deepEqual((await get(`/events?ids=${billingId},${inFlight}`, ops)).body.events?.map((e) => e.id), [billingId, inFlight]);
  });

  test('GET /metrics needs a key when KITSUNE_METRICS_REQUIRE_KEY is set', async (t) => {
    const { app } = await keyedApi(t);
    assert.equal((await app.inject({ url: '/metrics' })).statusCode, 401);
    assert.equal((await app.inject({ url: '/metrics', headers: payroll })).statusCode, 200);
  });
});
