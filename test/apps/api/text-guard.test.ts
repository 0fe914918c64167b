/**
 * Text PostgreSQL cannot hold (NUL, lone surrogates) is refused with 400 on every route, in every
 * place a request carries text, before anything is published or queried. The API runs on real
 * PostgreSQL (results, logs and the Postgres log), so a miss would show as the 500 it used to be.
 */
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { Registry as MetricsRegistry } from 'prom-client';
import { buildApi } from '../../../src/apps/api/build.ts';
import { ResultWaiter } from '../../../src/apps/api/events.ts';
import { loadRegistry } from '../../../src/commands/index.ts';
import { kitsuneMigrationsDir, migrate } from '../../../src/db/migrate.ts';
import { createPostgresTransport, type PostgresTransport } from '../../../src/transport/postgres/index.ts';
import type { OutgoingMessage } from '../../../src/transport/types.ts';
import { repoRoot } from '../../../scripts/services/state.ts';
import { suitePool } from '../../support/database.ts';

interface ErrorAnswer {
  error?: { code: string; field?: string; in?: string; message: string };
}

const routes: ReadonlyArray<{ method: 'GET' | 'POST'; url: string; body?: unknown }> = [
  { method: 'POST', url: '/execute', body: { command: 'create_user', version: '1', payload: { name: 'Ada', email: 'ada@example.com' } } },
  { method: 'POST', url: '/execute/batch', body: { commands: [{ command: 'create_user', version: '1', payload: { name: 'Bo', email: 'bo@example.com' } }] } },
  { method: 'GET', url: '/events/0190b5c2-7c1a-7000-8000-000000000001' },
  { method: 'GET', url: '/logs' },
  { method: 'GET', url: '/commands' },
  { method: 'GET', url: '/healthz' },
  { method: 'GET', url: '/readyz' },
  { method: 'GET', url: '/metrics' },
];

/** One raw HTTP/1.1 exchange, for what inject() cannot send (bytes Node's parser sees first). */
function rawExchange(port: number, request: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('error', () => undefined); // the server may reset after answering
    socket.on('close', () => {
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!match) reject(new Error(`no HTTP answer: ${JSON.stringify(text)}`));
      else resolve({ status: Number(match[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

describe('text PostgreSQL cannot hold, on every route', () => {
  const pool = suitePool(async (dsn) => {
    const opened = new pg.Pool({ connectionString: dsn, max: 6 });
    await migrate(opened, [{ dir: kitsuneMigrationsDir, scope: 'kitsune' }]);
    return opened;
  });
  let transport: PostgresTransport;
  let app: FastifyInstance;
  const published: OutgoingMessage[] = [];
  const topics = { dbEvents: 'db-events', appLogs: 'app-logs' };

  before(async () => {
    transport = createPostgresTransport({ pool: pool(), retention: false });
    await transport.ensureTopics([
      { name: topics.dbEvents, partitions: 2 },
      { name: topics.appLogs, partitions: 1 },
    ]);
    app = await buildApi({
      registry: await loadRegistry(join(repoRoot, 'commands', 'registry.yaml')),
      publisher: {
        publish: (topic, messages) => {
          published.push(...messages);
          return transport.publish(topic, messages);
        },
      },
      topics,
      limits: { bodyLimitBytes: 64 * 1024, maxJsonDepth: 16, logMessageMaxBytes: 4096, batchMaxItems: 10, publishTimeoutMs: 10_000 },
      readiness: [{ name: 'database', check: async () => void (await pool().query('SELECT 1')) }],
      results: new ResultWaiter(pool()),
      logs: pool(),
      metrics: new MetricsRegistry(),
      logger: false,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app.close();
    await transport.close();
  });

  const send = async (method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; answer: ErrorAnswer }> => {
    const response = await app.inject({
      method,
      url,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    let answer: ErrorAnswer = {};
    if ((response.headers['content-type'] ?? '').toString().startsWith('application/json')) answer = response.json<ErrorAnswer>();
    return { status: response.statusCode, answer };
  };

  const assertRefused = (result: { status: number; answer: ErrorAnswer }, field: string, where: string, what: string): void => {
    assert.equal(result.status, 400, `${what}: ${JSON.stringify(result.answer)}`);
    assert.equal(result.answer.error?.code, 'invalid_request', what);
    assert.equal(result.answer.error?.field, field, what);
    assert.equal(result.answer.error?.in, where, `${what}: says where the field is`);
    assert.ok((result.answer.error?.message ?? '').length > 0, `${what} explains itself`);
  };

  test('every route answers its ordinary request (so a 400 below is the guard, not a broken route)', async () => {
    for (const route of routes) {
      const { status } = await send(route.method, route.url, route.body);
      assert.ok(status < 400 || (route.url.startsWith('/events/') && status === 404), `${route.method} ${route.url}: ${status}`);
    }
    published.length = 0;
  });

  test('a NUL in a query parameter is 400 naming it, on every route; GET /logs?command=%00 included', async () => {
    for (const route of routes) {
      assertRefused(await send(route.method, `${route.url}?note=a%00b`, route.body), '/note', 'query', `${route.method} ${route.url}?note=a%00b`);
    }
    assertRefused(await send('GET', '/logs?command=%00'), '/command', 'query', 'GET /logs?command=%00');
    assertRefused(await send('GET', '/events/0190b5c2-7c1a-7000-8000-000000000001?wait=%00'), '/wait', 'query', 'GET /events/:id?wait=%00');
    assertRefused(await send('GET', '/logs?command=ok&command=b%00'), '/command', 'query', 'a repeated parameter');
  });

  test('a NUL in a header value is 400 naming the header, on every route', async () => {
    for (const route of routes) {
      assertRefused(await send(route.method, route.url, route.body, { 'x-note': 'a\u0000b' }), '/x-note', 'header', `${route.method} ${route.url} with a NUL header`);
    }
    const key = await send('POST', '/execute', routes[0]!.body, { 'idempotency-key': 'order\u00001' });
    assertRefused(key, '/idempotency-key', 'header', 'a NUL in Idempotency-Key');
  });

  test('a NUL in a route parameter is 400 naming it', async () => {
    assertRefused(await send('GET', '/events/%00'), '/id', 'path', 'GET /events/%00');
    assertRefused(await send('GET', '/events/0190b5c2-7c1a-7000-8000-00000000000%00'), '/id', 'path', 'a NUL inside an id');
  });

  test('a NUL or a lone surrogate anywhere in a JSON body is 400 with its JSON Pointer, keys included', async () => {
    const command = (payload: unknown, log?: unknown): Record<string, unknown> => ({ command: 'create_user', version: '1', payload, ...(log ? { log } : {}) });
    const cases: Array<[string, string, string]> = [
      ['/execute', JSON.stringify(command({ name: 'A\u0000da', email: 'ada@example.com' })), '/payload/name'],
      ['/execute', JSON.stringify(command({ name: 'Ada', email: 'ada@example.com' }, { level: 'INFO', message: 'half \ud800 a pair' })), '/log/message'],
      ['/execute', JSON.stringify(command({ name: 'Ada', email: 'ada@example.com' }, { level: 'INFO', message: 'tail \udc00' })), '/log/message'],
      ['/execute', '{"command":"create_user","version":"1","payload":{"na\\u0000me":"Ada","email":"ada@example.com"}}', '/payload'],
      ['/execute', JSON.stringify({ ...command({ name: 'Ada', email: 'ada@example.com' }), metadata: { source: 'svc\u0000' } }), '/metadata/source'],
      ['/execute', JSON.stringify(command({ name: 'Ada', email: 'ada@example.com', tags: ['ok', 'n\u0000'] })), '/payload/tags/1'],
      ['/execute', JSON.stringify(command({ name: 'Ada', 'a/b~c': '\u0000', email: 'ada@example.com' })), '/payload/a~1b~0c'],
      ['/execute', '"\\u0000"', '/'],
      [
        '/execute/batch',
        JSON.stringify({ commands: [command({ name: 'Ok', email: 'ok@example.com' }), command({ name: 'Bad', email: 'bad\u0000@example.com' })] }),
        '/commands/1/payload/email',
      ],
    ];
    for (const [url, body, field] of cases) assertRefused(await send('POST', url, body), field, 'body', `${url} ${body.slice(0, 80)}`);
    // A well-formed pair is ordinary text and passes (the emoji is U+1F98A, two UTF-16 units).
    const fox = await send('POST', '/execute', command({ name: 'Fox \u{1F98A}', email: 'fox@example.com' }));
    assert.equal(fox.status, 202, JSON.stringify(fox.answer));
    assert.equal(published.filter((m) => m.value.includes(Buffer.from('\u0000'))).length, 0);
    assert.equal(published.length, 2, 'only the well-formed command was published (its event and its log line)');
  });

  test('over a real socket: a NUL header and a route parameter that is not UTF-8 are 400 in the same error shape', async () => {
    const { port } = app.server.address() as AddressInfo;
    const header = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\u0000b\r\nConnection: close\r\n\r\n');
    assert.equal(header.status, 400);
    const headerAnswer = JSON.parse(header.body) as ErrorAnswer;
    assert.equal(headerAnswer.error?.code, 'invalid_request');
    assert.equal(headerAnswer.error?.field, 'headers');
    assert.equal(headerAnswer.error?.in, 'header');
    const url = await rawExchange(port, 'GET /events/%ED%A0%80 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(url.status, 400);
    const urlAnswer = JSON.parse(url.body) as ErrorAnswer;
    assert.equal(urlAnswer.error?.code, 'invalid_request');
    assert.equal(urlAnswer.error?.field, 'url');
    assert.equal(urlAnswer.error?.in, 'path');
    const query = await rawExchange(port, 'GET /logs?command=%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(query.status, 400);
    assert.deepEqual([(JSON.parse(query.body) as ErrorAnswer).error?.field, (JSON.parse(query.body) as ErrorAnswer).error?.in], ['/command', 'query']);
  });
});
