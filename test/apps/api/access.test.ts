/**
 * API keys, rate limits, batches and the catalog. The memory transport stands in for the broker
 * here: these tests are about the HTTP contract; broker behaviour is in execute-kafka.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { hashKey, parseApiKeys } from '../../../src/apps/api/api-keys.ts';
import { buildApi } from '../../../src/apps/api/build.ts';
import type { ApiDeps } from '../../../src/apps/api/deps.ts';
import { loadRegistry } from '../../../src/commands/index.ts';
import type { CommandEvent } from '../../../src/events/envelope.ts';
import { MemoryTransport } from '../../../src/transport/memory/index.ts';
import type { OutgoingMessage, Publisher } from '../../../src/transport/types.ts';
import { repoRoot } from '../../../scripts/services/state.ts';

const topics = { dbEvents: 'db-events', appLogs: 'app-logs' };
const limits = { bodyLimitBytes: 64 * 1024, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 5, publishTimeoutMs: 1_000 };

async function setup(t: TestContext, overrides: Partial<ApiDeps> = {}): Promise<{
  request: (url: string, body?: unknown, headers?: Record<string, string>) => Promise<LightMyRequestResponse>;
  /** What the API handed to the broker for db-events, recorded as publish() was called (no waiting). */
  published: () => OutgoingMessage[];
}> {
  const transport = new MemoryTransport();
  await transport.ensureTopics([{ name: topics.dbEvents, partitions: 3 }, { name: topics.appLogs, partitions: 1 }]);
  t.after(() => transport.close());
  const seen: OutgoingMessage[] = [];
  const publisher: Publisher = {
    publish: (topic, messages) => {
      if (topic === topics.dbEvents) seen.push(...messages);
      return transport.publish(topic, messages);
    },
  };
  const app = await buildApi({ registry: await loadRegistry(join(repoRoot, 'commands', 'registry.yaml')), publisher, topics, limits, logger: false, ...overrides });
  t.after(() => app.close());
  return {
    request: (url, body, headers = {}) =>
      app.inject({ method: body === undefined ? 'GET' : 'POST', url, headers: { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) }),
    published: () => seen,
  };
}

const createUser = (email: string, metadata: Record<string, unknown> = {}): Record<string, unknown> => ({
  command: 'create_user',
  version: 1,
  payload: { name: 'Ada', email },
  metadata,
});

const keysFile = (entries: string): string => `keys:\n${entries}`;
const billingKey = 'kit_billing_secret';
const readerKey = 'kit_reader_secret';
const apiKeys = parseApiKeys(
  keysFile(
    [
      `  - { name: billing, sha256: ${hashKey(billingKey)}, source: billing-service, commands: ["*"], rate_limit_per_second: 3 }`,
      `  - { name: reader, sha256: ${hashKey(readerKey)}, source: reader-service, commands: [delete_user] }`,
    ].join('\n'),
  ),
  'test',
);

describe('API keys', () => {
  test('without a key the API answers 401 with a clear code', async (t) => {
    const api = await setup(t, { apiKeys });
    const response = await api.request('/execute', createUser('a@example.com'));
    assert.equal(response.statusCode, 401);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'unauthorized');
    assert.deepEqual(api.published(), []);
  });

  test('an unknown key is 401 and a key without the command is 403', async (t) => {
    const api = await setup(t, { apiKeys });
    const unknown = await api.request('/execute', createUser('a@example.com'), { authorization: 'Bearer nope' });
    assert.equal(unknown.statusCode, 401);
    const forbidden = await api.request('/execute', createUser('a@example.com'), { 'x-api-key': readerKey });
    assert.equal(forbidden.statusCode, 403);
    assert.equal(forbidden.json<{ error: { code: string; field: string } }>().error.field, '/command');
    assert.deepEqual(api.published(), []);
  });

  test('the source comes from the key, never from the body', async (t) => {
    const api = await setup(t, { apiKeys });
    const response = await api.request('/execute', createUser('b@example.com', { source: 'pretending-to-be-payroll' }), { authorization: `Bearer ${billingKey}` });
    assert.equal(response.statusCode, 202, response.body);
    const [record] = api.published();
    assert.equal((JSON.parse(record!.value.toString()) as CommandEvent).metadata.source, 'billing-service');
  });

  test('a key over its rate limit gets 429 with Retry-After', async (t) => {
    // The clock stands still: five requests always fall in one one-second window, however slowly
    // a loaded machine serves them (the limiter reads Date.now()).
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const api = await setup(t, { apiKeys });
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 5; i++) {
      const response = await api.request('/execute', createUser(`r${i}@example.com`), { authorization: `Bearer ${billingKey}` });
      statuses.push(response.statusCode);
      if (response.statusCode === 429) {
        retryAfter = String(response.headers['retry-after']);
        assert.equal(response.json<{ error: { code: string } }>().error.code, 'rate_limited');
      }
    }
    assert.deepEqual(statuses, [202, 202, 202, 429, 429]);
    assert.ok(Number(retryAfter) >= 1);
  });

  test('a keys file with mistakes reports every one of them', () => {
    assert.throws(
      () => parseApiKeys(keysFile('  - { name: a, sha256: xyz, commands: [x] }\n  - { name: a, source: s, commands: [x], colour: red }'), 'keys.yaml'),
      (error: Error) => {
        for (const expected of ['sha256 must be', 'source is required', 'used twice', 'unknown key "colour"']) assert.ok(error.message.includes(expected), `${expected} in ${error.message}`);
        return true;
      },
    );
  });
});

describe('POST /execute/batch', () => {
  test('answers a result per item and publishes only the valid ones', async (t) => {
    const api = await setup(t);
    const response = await api.request('/execute/batch', {
      commands: [createUser('one@example.com'), { command: 'nope', version: '1', payload: {} }, createUser('two@example.com')],
    });
    assert.equal(response.statusCode, 207, response.body);
    const body = response.json<{ accepted: number; rejected: number; results: Array<{ index: number; status: string; error?: { code: string; field: string } }> }>();
    assert.equal(body.accepted, 2);
    assert.equal(body.rejected, 1);
    assert.deepEqual(body.results.map((r) => r.status), ['accepted', 'rejected', 'accepted']);
    assert.equal(body.results[1]?.error?.code, 'unknown_command');
    assert.equal(body.results[1]?.error?.field, '/commands/1/command');
    assert.equal((api.published()).length, 2);
  });

  test('a retried batch with the same Idempotency-Key gets the same ids, item by item', async (t) => {
    const api = await setup(t);
    const batch = { commands: [createUser('x@example.com'), createUser('y@example.com')] };
    const ids = async (): Promise<string[]> =>
      (await api.request('/execute/batch', batch, { 'idempotency-key': 'batch-7' })).json<{ results: Array<{ id: string }> }>().results.map((r) => r.id);
    const first = await ids();
    assert.deepEqual(await ids(), first);
    assert.notEqual(first[0], first[1]);
  });

  test('a batch over the item limit is refused whole with 413', async (t) => {
    const api = await setup(t);
    const response = await api.request('/execute/batch', { commands: Array.from({ length: 6 }, (_, i) => createUser(`${i}@example.com`)) });
    assert.equal(response.statusCode, 413);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'batch_too_large');
    assert.deepEqual(api.published(), []);
  });
});

describe('catalog and health', () => {
  test('GET /commands lists every command with each version\'s JSON Schema', async (t) => {
    const api = await setup(t);
    const { commands } = (await api.request('/commands')).json<{ commands: Array<{ name: string; versions: Array<{ version: string; schema: { properties: Record<string, unknown> } }> }> }>();
    const create = commands.find((c) => c.name === 'create_user');
    assert.ok(create, 'create_user is listed');
    assert.ok(create.versions[0]?.schema.properties.email, 'with its payload schema');
    assert.deepEqual(commands.map((c) => c.name).sort(), ['create_user', 'delete_user', 'update_user']);
  });

  test('GET /openapi.json describes /execute with one schema per command version', async (t) => {
    const api = await setup(t);
    const doc = (await api.request('/openapi.json')).json<{ openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } }>();
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/execute']);
    assert.ok(doc.components.schemas['create_user.v1']);
  });

  test('GET /readyz answers 503 naming the dependency that is down', async (t) => {
    const api = await setup(t, { readiness: [{ name: 'broker', check: () => Promise.resolve() }, { name: 'database', check: () => Promise.reject(new Error('connection refused')) }] });
    const response = await api.request('/readyz');
    assert.equal(response.statusCode, 503);
    assert.deepEqual(response.json(), { status: 'not_ready', checks: { broker: 'ok', database: 'connection refused' } });
    assert.equal((await api.request('/healthz')).statusCode, 200);
  });
});
