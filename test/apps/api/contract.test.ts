/**
 * The HTTP contract: the generated OpenAPI document is valid OpenAPI 3.1 and lists every route,
 * every refusal is a 4xx in the one error shape (Fastify's and Node's own included), and the
 * server accepts exactly the command bodies the document's schemas accept.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Registry as MetricsRegistry } from 'prom-client';
import pg from 'pg';
import { hashKey, parseApiKeys } from '../../../src/apps/api/api-keys.ts';
import { ResultWaiter } from '../../../src/apps/api/events.ts';
import { createSchemaCompiler } from '../../../src/commands/payload.ts';
import { createUser, memoryApi, type ErrorAnswer } from './support.ts';

interface Document {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown; responses: Record<string, { links?: unknown; headers?: Record<string, unknown> }> }>>;
  components: { schemas: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
}

const keys = parseApiKeys(`keys:\n  - { name: a, sha256: ${hashKey('key-a')}, source: service-a, commands: ["*"] }`, 'test');
const docId = 'https://kitsune.invalid/openapi.json';

/** Kitsune's own schema settings, with the document's components loaded (strict: unknown keywords fail). */
function documentCompiler(doc: Document): ReturnType<typeof createSchemaCompiler> {
  const ajv = createSchemaCompiler();
  ajv.addKeyword({ keyword: 'components' });
  ajv.addSchema({ $id: docId, components: { schemas: doc.components.schemas } });
  return ajv;
}

/** A pool that is never connected: the document and the refusals below need no database. */
const idlePool = (): pg.Pool => new pg.Pool({ connectionString: 'postgres://127.0.0.1:1/none', max: 1 });

async function everyRouteApi(t: Parameters<typeof memoryApi>[0], keysOn: boolean): Promise<Awaited<ReturnType<typeof memoryApi>>> {
  const pool = idlePool();
  const results = new ResultWaiter(pool, { listen: false });
  t.after(() => pool.end());
  return memoryApi(t, { results, logs: pool, pool, metrics: new MetricsRegistry(), ...(keysOn ? { apiKeys: keys, metricsRequireKey: true } : {}) });
}

describe('the OpenAPI document', () => {
  for (const keysOn of [false, true]) {
    test(`is valid OpenAPI 3.1 and lists every route the server answers (keys ${keysOn ? 'on' : 'off'})`, async (t) => {
      const { app } = await everyRouteApi(t, keysOn);
      const doc = (await app.inject({ url: '/openapi.json' })).json<Document>();
      const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
      assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1));
      assert.equal(doc.openapi, '3.1.0');
      const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`)).sort();
      assert.deepEqual(listed, [
        'GET /commands', 'GET /console', 'GET /docs/', 'GET /events', 'GET /events/{id}', 'GET /events/{id}/timeline', 'GET /healthz', 'GET /logs',
        'GET /metrics', 'GET /openapi.json', 'GET /overview', 'GET /readyz', 'POST /execute', 'POST /execute/batch',
      ]);
      // Every schema compiles as JSON Schema 2020-12 under strict rules: no unknown keyword slips in.
      const ajv = documentCompiler(doc);
      for (const name of Object.keys(doc.components.schemas)) assert.ok(ajv.getSchema(`${docId}#/components/schemas/${name}`), name);
      assert.deepEqual(doc.paths['/execute']?.post?.responses['202']?.links, { getEvent: { operationId: 'getEvent', parameters: { id: '$response.body#/id' }, description: 'The outcome of the accepted command' } });
      assert.ok(doc.paths['/execute']?.post?.responses['202']?.headers?.Location, '202 states Location');
      assert.ok(doc.paths['/execute']?.post?.responses['503']?.headers?.['Retry-After'], '503 states Retry-After');
      if (keysOn) {
        assert.ok(doc.components.securitySchemes?.bearerAuth && doc.components.securitySchemes.apiKeyHeader);
        for (const route of ['/execute', '/events/{id}', '/logs', '/metrics', '/events', '/events/{id}/timeline', '/overview']) {
          const op = Object.values(doc.paths[route] ?? {})[0];
          assert.ok(op?.security, `${route} states its security`);
          assert.ok(op.responses['401'], `${route} lists 401`);
        }
      }
    });
  }

  test('GET /docs renders the document from files the server holds itself', async (t) => {
    const { app } = await everyRouteApi(t, false);
    const page = await app.inject({ url: '/docs/' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    for (const asset of page.body.matchAll(/(?:src|href)="([^"]+)"/g)) {
      assert.doesNotMatch(asset[1]!, /^(https?:)?\/\//, `${asset[1]} is served locally`);
    }
    assert.equal((await app.inject({ url: '/docs/static/swagger-ui-bundle.js' })).statusCode, 200);
  });
});

describe('one error shape', () => {
  const isError = (body: string): ErrorAnswer['error'] => {
    const parsed = JSON.parse(body) as ErrorAnswer;
    assert.equal(typeof parsed.error.code, 'string', body);
    assert.equal(typeof parsed.error.message, 'string', body);
    return parsed.error;
  };

  test('the router, the parsers and the schema checks all answer 4xx in it, never 500', async (t) => {
    const { app, publishedIds } = await everyRouteApi(t, false);
    const cases: Array<{ name: string; method?: string; url: string; headers?: Record<string, string>; body?: string; status: number; code: string; allow?: string; field?: string }> = [
      { name: 'QUERY without Content-Type on a path that answers GET', method: 'QUERY', url: '/healthz', status: 405, code: 'method_not_allowed', allow: 'GET, HEAD' },
      { name: 'QUERY without Content-Type on no path', method: 'QUERY', url: '/nowhere', status: 404, code: 'not_found' },
      { name: 'a URL that does not decode', url: '/%zz', status: 400, code: 'invalid_request' },
      { name: 'the wrong method on a known path', method: 'DELETE', url: '/execute', status: 405, code: 'method_not_allowed', allow: 'POST' },
      { name: 'an unknown path', url: '/nope', status: 404, code: 'not_found' },
      { name: 'NUL in a query parameter', url: '/logs?command=%00', status: 400, code: 'invalid_request', field: '/command' },
      { name: 'a body of another media type', method: 'POST', url: '/execute', headers: { 'content-type': 'text/plain' }, body: 'hello', status: 415, code: 'unsupported_media_type' },
      { name: 'a body without Content-Type', method: 'POST', url: '/execute', headers: {}, body: '{}', status: 415, code: 'unsupported_media_type' },
      { name: 'an empty Idempotency-Key', method: 'POST', url: '/execute', headers: { 'content-type': 'application/json', 'idempotency-key': '' }, body: JSON.stringify(createUser('k@example.com')), status: 400, code: 'invalid_request', field: '/idempotency-key' },
      { name: 'metadata null', method: 'POST', url: '/execute', body: JSON.stringify({ ...createUser('n@example.com'), metadata: null }), status: 400, code: 'invalid_request', field: '/metadata' },
      { name: 'a source with a space', method: 'POST', url: '/execute', body: JSON.stringify(createUser('s@example.com', { source: 'a b' })), status: 400, code: 'invalid_request', field: '/metadata/source' },
      { name: 'an empty source', method: 'POST', url: '/execute', body: JSON.stringify(createUser('s@example.com', { source: '' })), status: 400, code: 'invalid_request', field: '/metadata/source' },
      { name: 'a batch with an unknown top-level key', method: 'POST', url: '/execute/batch', body: JSON.stringify({ commands: [createUser('b@example.com')], x: 1 }), status: 400, code: 'invalid_request', field: '/x' },
      { name: 'an empty batch', method: 'POST', url: '/execute/batch', body: '{"commands":[]}', status: 400, code: 'invalid_request', field: '/commands' },
      { name: 'an event id that is not a UUID', url: '/events/nope', status: 400, code: 'invalid_request', field: '/id' },
    ];
    for (const c of cases) {
      const response = await app.inject({
        method: (c.method ?? 'GET') as 'GET',
        url: c.url,
        headers: c.headers ?? (c.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(c.body === undefined ? {} : { payload: c.body }),
      });
      assert.equal(response.statusCode, c.status, `${c.name}: ${response.body}`);
      const error = isError(response.body);
      assert.equal(error.code, c.code, c.name);
      if (c.allow) assert.equal(response.headers.allow, c.allow, c.name);
      if (c.field) assert.equal(error.field, c.field, `${c.name}: ${response.body}`);
    }
    assert.deepEqual(publishedIds(), [], 'nothing refused was published');
  });

  test('a body over the limit is 413 and says the limit', async (t) => {
    const { app } = await memoryApi(t);
    const response = await app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(createUser(`${'x'.repeat(70_000)}@example.com`)) });
    assert.equal(response.statusCode, 413);
    assert.match(isError(response.body).message, /65536 bytes/);
  });

  test('what Node\'s HTTP parser refuses is answered in the same shape', async (t) => {
    const { app } = await memoryApi(t);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const raw = await new Promise<string>((resolveRaw, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolveRaw(text));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.equal(isError(raw.slice(raw.indexOf('\r\n\r\n') + 4)).code, 'invalid_request');
  });

  test('a batch whose every command is rejected is 422 batch_rejected with each reason, and publishes nothing', async (t) => {
    const { app, publishedIds } = await memoryApi(t);
    const response = await app.inject({
      method: 'POST', url: '/execute/batch', headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ commands: [{ command: 'nope', version: 1, payload: {} }, { ...createUser('not-an-email') }] }),
    });
    assert.equal(response.statusCode, 422, response.body);
    const error = isError(response.body);
    assert.equal(error.code, 'batch_rejected');
    assert.deepEqual(error.errors?.map((e) => [e.code, e.field]), [['unknown_command', '/commands/0/command'], ['invalid_payload', '/commands/1/payload/email']]);
    assert.deepEqual(publishedIds(), []);
  });
});

describe('the server checks exactly what the document says', () => {
  test('a command body is accepted by the server if and only if the document\'s Command schema accepts it', async (t) => {
    const { app } = await memoryApi(t);
    const doc = (await app.inject({ url: '/openapi.json' })).json<Document>();
    const command = documentCompiler(doc).compile({ $ref: `${docId}#/components/schemas/Command` });
    const valid = createUser('ok@example.com');
    const bodies: unknown[] = [
      valid, { ...valid, version: '1' }, { ...valid, version: 2 }, { ...valid, version: 1.5 }, { ...valid, command: 'nope' },
      { ...valid, extra: true }, { ...valid, metadata: null }, { ...valid, metadata: {} }, { ...valid, metadata: { source: 'svc' } },
      { ...valid, metadata: { source: 'a b' } }, { ...valid, metadata: { idempotency_key: '' } }, { ...valid, metadata: { idempotency_key: 'k' } },
      { ...valid, log: { level: 'info', message: 'hi' } }, { ...valid, log: { level: 'Info', message: 'hi' } }, { ...valid, log: { level: 'INFO' } },
      { ...valid, log: { level: 'INFO', message: 'x'.repeat(1025) } }, { ...valid, payload: { name: '', email: 'a@b.co' } },
      { ...valid, payload: { name: 'x', email: 'a@b.co', more: 1 } }, { command: 'update_user', version: 1, payload: { id: 1 } },
      { command: 'update_user', version: 1, payload: { id: '7', name: 'x' } }, { command: 'update_user', version: 1, payload: { id: 0, name: 'x' } },
      { command: 'delete_user', version: '1', payload: { id: 9 } }, [], 'x', null, {},
    ];
    for (const body of bodies) {
      const response = await app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
      const documented = command(body);
      assert.equal(response.statusCode === 202, documented, `${JSON.stringify(body).slice(0, 120)}: document says ${documented ? 'valid' : 'invalid'}, server answered ${response.statusCode} ${response.body.slice(0, 160)}`);
    }
  });
});
