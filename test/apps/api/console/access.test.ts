/**
 * Who may use the console's endpoints, and how /console is served. The memory transport stands in
 * for the broker and a DLQ with nothing in it for the dead-letter topic: these tests are about the
 * HTTP contract; the DLQ on real PostgreSQL is in dlq-http.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type pg from 'pg';
import { hashKey, parseApiKeys } from '../../../../src/apps/api/api-keys.ts';
import { buildApi, type ApiDeps } from '../../../../src/apps/api/build.ts';
import { loadRegistry } from '../../../../src/commands/index.ts';
import type { DeadLetterLog } from '../../../../src/dlq/log.ts';
import { MemoryTransport } from '../../../../src/transport/memory/index.ts';
import { repoRoot } from '../../../../scripts/services/state.ts';

const adminKey = 'kit_ops_secret';
const shopKey = 'kit_shop_secret';
const apiKeys = parseApiKeys(
  `keys:\n  - { name: ops, sha256: ${hashKey(adminKey)}, source: ops, commands: ["*"], admin: true }\n` +
    `  - { name: shop, sha256: ${hashKey(shopKey)}, source: shop, commands: ["*"] }\n`,
  'test',
);

/** A DLQ topic that was never created: enough to reach the handler behind the guard. */
const emptyLog: DeadLetterLog = {
  describe: (topic, group) => Promise.resolve({ topic, group, exists: false, partitions: [] }),
  read: () => Promise.resolve([]),
  commit: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

async function api(t: TestContext, overrides: Partial<ApiDeps> = {}) {
  const transport = new MemoryTransport();
  t.after(() => transport.close());
  const registry = await loadRegistry(join(repoRoot, 'commands', 'registry.yaml'));
  const app = await buildApi({
    registry,
    publisher: transport,
    topics: { dbEvents: 'db-events', appLogs: 'app-logs' },
    limits: { bodyLimitBytes: 64 * 1024, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 5, publishTimeoutMs: 1_000 },
    logger: false,
    dlq: { deps: { log: emptyLog, pool: {} as pg.Pool, registry, dlqTopic: 'db-events.dlq', group: 'kitsune.dlq-replay' }, publisher: transport, targetTopic: 'db-events' },
    ...overrides,
  });
  t.after(() => app.close());
  return (method: 'GET' | 'POST', url: string, key?: string, body?: unknown) =>
    app.inject({ method, url, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
}

describe('API keys and the DLQ', () => {
  test('the keys file takes admin: true or false, and nothing else', () => {
    assert.throws(
      () => parseApiKeys(`keys:\n  - { name: a, sha256: ${hashKey('a')}, source: s, commands: ["*"], admin: "yes" }\n`, 'keys.yaml'),
      /keys\[0\]\.admin must be true or false/,
    );
    const parsed = parseApiKeys(`keys:\n  - { name: a, sha256: ${hashKey('a')}, source: s, commands: ["*"] }\n`, 'keys.yaml');
    assert.equal(parsed.find('a')?.admin, false, 'admin is off unless the file says so');
  });

  test('with keys on, the DLQ needs an admin key: none is 401, a plain key 403, an admin key gets through', async (t) => {
    const request = await api(t, { apiKeys });
    for (const [method, url, body] of [['GET', '/dlq', undefined], ['POST', '/dlq/dry-run', { ids: ['0:0'] }], ['POST', '/dlq/replay', { ids: ['0:0'] }], ['POST', '/dlq/purge', {}]] as const) {
      const anonymous = await request(method, url, undefined, body);
      assert.equal(anonymous.statusCode, 401, `${method} ${url} without a key`);
      const plain = await request(method, url, shopKey, body);
      assert.equal(plain.statusCode, 403, `${method} ${url} with a key that is not admin`);
      assert.match(plain.json<{ error: { message: string } }>().error.message, /may not manage the dead-letter queue; use a key with admin: true/);
    }
    const listed = await request('GET', '/dlq', adminKey);
    assert.equal(listed.statusCode, 200);
    assert.deepEqual(listed.json<{ exists: boolean; total: number }>(), { ...listed.json<object>(), exists: false, total: 0 });
    const overview = await request('GET', '/overview', shopKey);
    assert.equal(overview.statusCode, 200, 'any key reads the overview');
    assert.equal((await request('GET', '/overview')).statusCode, 401);
  });

  test('with keys off, everything is open', async (t) => {
    const request = await api(t);
    assert.equal((await request('GET', '/dlq')).statusCode, 200);
    assert.equal((await request('GET', '/overview')).statusCode, 200);
  });
});

describe('/console', () => {
  test('serves the built page with a content security policy, and hashed assets as immutable', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'kitsune-console-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>Kitsune console</title>');
    await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    const request = await api(t, { consoleDir: dir });
    const bare = await request('GET', '/console');
    assert.equal(bare.statusCode, 302);
    assert.equal(bare.headers.location, '/console/');
    const page = await request('GET', '/console/');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Kitsune console/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    const asset = await request('GET', '/console/assets/index-abc123.js');
    assert.equal(asset.statusCode, 200);
    assert.match(String(asset.headers['cache-control']), /immutable/);
    assert.equal((await request('GET', '/console/../package.json')).statusCode, 404);
  });

  test('says how to build it when it was never built', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'kitsune-console-empty-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const request = await api(t, { consoleDir: dir });
    const page = await request('GET', '/console/');
    assert.equal(page.statusCode, 503);
    const { error } = page.json<{ error: { code: string; message: string } }>();
    assert.equal(error.code, 'console_not_built');
    assert.match(error.message, /npm run build/);
  });
});
