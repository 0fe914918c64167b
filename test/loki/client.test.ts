import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { LokiClient, LokiFailures, LokiPushError, maxRetryAfterMs, parseRetryAfter } from '../../src/loki/index.ts';
import type { LokiEntry } from '../../src/loki/index.ts';
import { FaultKinds, startLokiServer, type LokiServerOptions, type LokiTestServer } from '../support/loki/index.ts';

async function startLoki(t: TestContext, options: LokiServerOptions = {}): Promise<LokiTestServer> {
  const loki = await startLokiServer(options);
  t.after(() => loki.close());
  return loki;
}

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;
const labels = { service: 'kitsune', level: 'INFO', command: 'create_user', source: 'user-service' };

async function pushError(client: LokiClient, entries: readonly LokiEntry[]): Promise<LokiPushError> {
  try {
    await client.push(labels, entries);
  } catch (error) {
    assert.ok(error instanceof LokiPushError, `expected a LokiPushError, got ${String(error)}`);
    return error;
  }
  assert.fail('the push was expected to fail');
}

test('a push is stored as one stream with its labels, nanosecond timestamps, lines and structured metadata', async (t) => {
  const loki = await startLoki(t, { requireTenant: true });
  const client = new LokiClient({ url: loki.url, tenant: 'team-a' });
  const ts = nowNs();
  await client.push(labels, [
    { ts, line: 'first', metadata: { event_id: 'e-1', trace_id: 't-1' } },
    { ts: ts + 1n, line: 'second', metadata: {} },
  ]);

  const stored = loki.entries('team-a');
  assert.deepEqual(
    stored.map((entry) => [entry.ts, entry.line, entry.metadata]),
    [
      [ts, 'first', { event_id: 'e-1', trace_id: 't-1' }],
      [ts + 1n, 'second', {}],
    ],
  );
  assert.deepEqual(stored[0]?.labels, { ...labels, service_name: 'kitsune' }, 'only the labels sent, plus the service_name Loki derives');
  assert.equal(loki.stats().pushesReceived, 1);
});

test('without a tenant the X-Scope-OrgID header is not sent, and an auth-enabled Loki refuses the push as a configuration problem', async (t) => {
  const loki = await startLoki(t, { requireTenant: true });
  const error = await pushError(new LokiClient({ url: loki.url }), [{ ts: nowNs(), line: 'x', metadata: {} }]);
  assert.equal(error.status, 401);
  assert.equal(error.failure, LokiFailures.unexpectedStatus);
  assert.equal(error.retryable, true, 'a missing tenant is the setup\'s fault, not the line\'s: it must not be dead-lettered');
});

test('Loki\'s answers are classified by status: 400 and 413 refuse the entries, 429 and 5xx are retryable', async (t) => {
  const loki = await startLoki(t);
  const client = new LokiClient({ url: loki.url });
  const entry = { ts: nowNs(), line: 'x', metadata: {} };
  loki.faults.push(
    { kind: FaultKinds.REJECT, status: 400, body: 'entry too far behind' },
    { kind: FaultKinds.REJECT, status: 413, body: 'request body too large' },
    { kind: FaultKinds.STATUS, status: 429, retryAfterSeconds: 3 },
    { kind: FaultKinds.STATUS, status: 503 },
  );

  const rejected = await pushError(client, [entry]);
  assert.deepEqual([rejected.failure, rejected.retryable, rejected.status], [LokiFailures.rejected, false, 400]);
  assert.match(rejected.message, /entry too far behind/, 'Loki\'s reason travels in the message');
  const tooLarge = await pushError(client, [entry]);
  assert.deepEqual([tooLarge.failure, tooLarge.retryable], [LokiFailures.tooLarge, false]);
  const limited = await pushError(client, [entry]);
  assert.deepEqual([limited.failure, limited.retryable, limited.retryAfterMs], [LokiFailures.rateLimited, true, 3_000]);
  const unavailable = await pushError(client, [entry]);
  assert.deepEqual([unavailable.failure, unavailable.retryable, unavailable.retryAfterMs], [LokiFailures.serverError, true, undefined]);
});

test('a push Loki does not answer within the timeout fails as a retryable timeout, and nothing of it is stored', { timeout: 60_000 }, async (t) => {
  const loki = await startLoki(t);
  // Hung for good: only the client's own timeout can end the push (else the test times out).
  loki.faults.push({ kind: FaultKinds.HANG });
  const error = await pushError(new LokiClient({ url: loki.url, timeoutMs: 500 }), [{ ts: nowNs(), line: 'hung', metadata: {} }]);
  assert.equal(error.failure, LokiFailures.timeout);
  assert.equal(error.retryable, true);
  assert.equal(loki.entries().length, 0);
});

test('a refused connection fails as a retryable network error', async (t) => {
  const loki = await startLoki(t);
  const url = loki.url;
  await loki.close();
  const error = await pushError(new LokiClient({ url }), [{ ts: nowNs(), line: 'x', metadata: {} }]);
  assert.equal(error.failure, LokiFailures.network);
  assert.equal(error.retryable, true);
});

test('credentials in LOKI_URL are sent as Basic auth, and a path prefix is kept in front of the push path', async (t) => {
  const seen: Array<{ url: string | undefined; headers: IncomingHttpHeaders }> = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;

  await new LokiClient({ url: `http://user%40org:s3cr%3At@127.0.0.1:${port}/gateway/` }).push(labels, [{ ts: nowNs(), line: 'x', metadata: {} }]);

  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.url, '/gateway/loki/api/v1/push');
  assert.equal(seen[0]?.headers.authorization, `Basic ${Buffer.from('user@org:s3cr:t').toString('base64')}`);
  assert.equal(seen[0]?.headers['content-encoding'], 'gzip');
  assert.equal(seen[0]?.headers['content-type'], 'application/json');
});

test('with compression none the push is the JSON as it is, without Content-Encoding, and Loki stores it the same', async (t) => {
  const bodies: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      bodies.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const ts = nowNs();
  const entries: LokiEntry[] = [{ ts, line: '{"msg":"ünï \\"quoted\\""}', metadata: { event_id: 'e-1' } }];

  await new LokiClient({ url: `http://127.0.0.1:${port}`, compression: 'none' }).push(labels, entries);
  assert.equal(bodies[0]?.headers['content-encoding'], undefined);
  assert.equal(bodies[0]?.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(bodies[0]?.body ?? ''), { streams: [{ stream: labels, values: [[ts.toString(), entries[0]!.line, { event_id: 'e-1' }]] }] });

  const loki = await startLoki(t);
  await new LokiClient({ url: loki.url, compression: 'none' }).push(labels, entries);
  assert.deepEqual(
    loki.entries().map((entry) => [entry.ts, entry.line, entry.metadata]),
    [[ts, entries[0]!.line, { event_id: 'e-1' }]],
  );
});

test('Retry-After is read as seconds or as an HTTP date, and an absurd one is capped', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('2', now), 2_000);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5_000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), 0, 'a date in the past means now');
  assert.equal(parseRetryAfter('86400', now), maxRetryAfterMs);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});
