/**
 * The client's retry rules against a small local HTTP server that answers as scripted: what is
 * under test is the client's side of the wire (keys, delays, codes), not the API.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { parseRetryAfter, retryDelayMs, retryDefaults } from '../../src/client/retry.ts';
import { createClient, KitsuneClientError } from '../../src/client/index.ts';

interface Seen {
  method: string;
  url: string;
  idempotencyKey: string | undefined;
  authorization: string | undefined;
  body: unknown;
  at: number;
}

type Script = (request: Seen, index: number, response: ServerResponse) => void;

/** A server on 127.0.0.1 that records every request and answers the n-th with script(n). */
async function scriptedServer(t: TestContext, script: Script): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const entry: Seen = {
        method: request.method ?? '',
        url: request.url ?? '',
        idempotencyKey: request.headers['idempotency-key'] as string | undefined,
        authorization: request.headers.authorization,
        body: text ? (JSON.parse(text) as unknown) : undefined,
        at: Date.now(),
      };
      seen.push(entry);
      script(entry, seen.length - 1, response);
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  t.after(() => new Promise<void>((resolveClose) => server.close(() => resolveClose())));
  t.after(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
};

const accepted = (response: ServerResponse, id = '0190f5c8-0000-7000-8000-000000000001', key = 'k'): void =>
  json(response, 202, { id, status: 'accepted', idempotency_key: key, links: { self: `/events/${id}` } });

const unavailable = (response: ServerResponse, retryAfter = '0'): void =>
  json(response, 503, { error: { code: 'broker_unavailable', message: 'the broker did not acknowledge' } }, { 'retry-after': retryAfter });

const fast = { baseMs: 1, maxMs: 5 };

describe('client retries', () => {
  test('a 503 then a 202 is retried with the same generated Idempotency-Key, and the key is returned', async (t) => {
    const { url, seen } = await scriptedServer(t, (request, index, response) =>
      index === 0 ? unavailable(response) : accepted(response, undefined, request.idempotencyKey));
    const client = createClient({ baseUrl: url, backoff: fast });
    const result = await client.execute('create_user', { name: 'Ada', email: 'ada@example.com' });
    assert.equal(seen.length, 2);
    assert.match(seen[0]!.idempotencyKey ?? '', /^[0-9a-f-]{36}$/, 'a key is generated when the caller gives none');
    assert.equal(seen[1]!.idempotencyKey, seen[0]!.idempotencyKey, 'the retry carries the same key');
    assert.deepEqual(seen[1]!.body, seen[0]!.body, 'and the same body');
    assert.equal(result.idempotency_key, seen[0]!.idempotencyKey);
    assert.deepEqual(seen[0]!.body, { command: 'create_user', version: '1', payload: { name: 'Ada', email: 'ada@example.com' } });
  });

  test('a caller-given key is sent on every attempt, with the API key as a bearer token', async (t) => {
    const { url, seen } = await scriptedServer(t, (_request, index, response) => (index < 2 ? unavailable(response) : accepted(response)));
    const client = createClient({ baseUrl: url, apiKey: 'secret', backoff: fast });
    await client.execute('create_user', { name: 'Ada', email: 'ada@example.com' }, { idempotencyKey: 'order-42', version: 2 });
    assert.deepEqual(seen.map((s) => s.idempotencyKey), ['order-42', 'order-42', 'order-42']);
    assert.ok(seen.every((s) => s.authorization === 'Bearer secret'));
    assert.equal((seen[0]!.body as { version: string }).version, '2');
  });

  test('a 429 waits at least its Retry-After before trying again', async (t) => {
    const { url, seen } = await scriptedServer(t, (_request, index, response) =>
      index === 0 ? json(response, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '1' }) : accepted(response));
    const client = createClient({ baseUrl: url, backoff: fast });
    await client.execute('create_user', { name: 'Ada', email: 'ada@example.com' });
    const gap = seen[1]!.at - seen[0]!.at;
    assert.ok(gap >= 990, `retried after ${gap} ms, Retry-After said 1 s`);
    assert.ok(gap < 3_000, `retried after ${gap} ms: far beyond Retry-After plus jitter`);
  });

  test('a dropped connection is retried with the same key', async (t) => {
    const { url, seen } = await scriptedServer(t, (_request, index, response) => (index === 0 ? response.socket?.destroy() : accepted(response)));
    const client = createClient({ baseUrl: url, backoff: fast });
    await client.execute('create_user', { name: 'Ada', email: 'ada@example.com' });
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.idempotencyKey, seen[0]!.idempotencyKey);
  });

  test('a 422 is not retried and surfaces the API code, status and field', async (t) => {
    const { url, seen } = await scriptedServer(t, (_request, _index, response) =>
      json(response, 422, { error: { code: 'invalid_payload', message: 'payload does not match create_user v1: must match format "email"', field: '/payload/email' } }));
    const client = createClient({ baseUrl: url, backoff: fast });
    const error = await client.execute('create_user', { name: 'Ada', email: 'nope' }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof KitsuneClientError);
    assert.equal(error.code, 'invalid_payload');
    assert.equal(error.status, 422);
    assert.equal(error.field, '/payload/email');
    assert.equal(error.retryable, false);
    assert.equal(seen.length, 1);
  });

  test('after the last retry the 503 is thrown with its attempts and the key to retry with later', async (t) => {
    const { url, seen } = await scriptedServer(t, (_request, _index, response) => unavailable(response));
    const client = createClient({ baseUrl: url, retries: 2, backoff: fast });
    const error = await client.execute('create_user', { name: 'Ada', email: 'ada@example.com' }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof KitsuneClientError);
    assert.equal(error.code, 'broker_unavailable');
    assert.equal(error.status, 503);
    assert.equal(error.retryable, true);
    assert.equal(error.attempts, 3);
    assert.equal(seen.length, 3);
    assert.equal(error.idempotencyKey, seen[0]!.idempotencyKey);
  });

  test('a 503 that names its event hands back the event id with the key, as the API sent them', async (t) => {
    const { url, seen } = await scriptedServer(t, (request, _index, response) =>
      json(
        response,
        503,
        { error: { code: 'broker_unavailable', message: 'may still be applied', id: '0190f5c8-0000-7000-8000-0000000000aa', idempotency_key: request.idempotencyKey } },
        { 'retry-after': '0', location: '/events/0190f5c8-0000-7000-8000-0000000000aa' },
      ),
    );
    const client = createClient({ baseUrl: url, retries: 1, backoff: fast });
    const error = await client.execute('create_user', { name: 'Ada', email: 'ada@example.com' }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof KitsuneClientError);
    assert.equal(error.eventId, '0190f5c8-0000-7000-8000-0000000000aa');
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.idempotencyKey, seen[0]!.idempotencyKey, 'every attempt carried one key');
    assert.equal(error.idempotencyKey, seen[0]!.idempotencyKey);
  });

  test('a Retry-After beyond maxRetryAfterMs ends the retries at once', async (t) => {
    const { url, seen } = await scriptedServer(t, (_request, _index, response) => unavailable(response, '3600'));
    const client = createClient({ baseUrl: url, backoff: { ...fast, maxRetryAfterMs: 10_000 } });
    const error = await client.execute('create_user', { name: 'Ada', email: 'ada@example.com' }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof KitsuneClientError);
    assert.equal(error.retryAfterMs, 3_600_000);
    assert.equal(seen.length, 1);
  });

  test('an unreachable API fails with network_error after the retries', async () => {
    // A port that was just free: nothing listens there, so the connection is refused.
    const probe = createServer();
    await new Promise<void>((resolveListen) => probe.listen(0, '127.0.0.1', resolveListen));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolveClose) => probe.close(() => resolveClose()));
    const client = createClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 1, backoff: fast });
    const error = await client.execute('create_user', { name: 'Ada', email: 'ada@example.com' }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof KitsuneClientError);
    assert.equal(error.code, 'network_error');
    assert.equal(error.status, 0);
    assert.equal(error.attempts, 2);
    assert.match(error.message, /ECONNREFUSED/);
  });

  test('aborting the signal stops a call that is backing off', { timeout: 30_000 }, async (t) => {
    const controller = new AbortController();
    // Retry-After 50 s, longer than the test may take: only the abort can end the call in time.
    // It comes once the 503 is on its way, so the client is reading it or sitting out its wait.
    const { url } = await scriptedServer(t, (_request, _index, response) => {
      response.once('finish', () => controller.abort());
      unavailable(response, '50');
    });
    const client = createClient({ baseUrl: url });
    const error = await client.execute('create_user', { name: 'Ada', email: 'ada@example.com' }, { signal: controller.signal }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof KitsuneClientError);
    assert.equal(error.code, 'aborted');
  });

  test('wait long-polls GET /events/:id until the result is no longer pending', async (t) => {
    const id = '0190f5c8-0000-7000-8000-0000000000aa';
    const { url, seen } = await scriptedServer(t, (request, index, response) => {
      if (request.method === 'POST') return accepted(response, id);
      return json(response, 200, index < 2 ? { id, status: 'pending' } : { id, status: 'succeeded', result: { rows: [{ id: '1' }], rows_affected: 1 } });
    });
    const client = createClient({ baseUrl: url });
    const result = await client.execute('create_user', { name: 'Ada', email: 'ada@example.com' }, { wait: 5 });
    assert.equal(result.result?.status, 'succeeded');
    assert.deepEqual(result.result?.result?.rows, [{ id: '1' }]);
    assert.match(seen[1]!.url, new RegExp(`^/events/${id}\\?wait=`));
  });
});

describe('Retry-After', () => {
  test('Retry-After reads delay-seconds and HTTP dates, and the delay never undercuts it', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('7', now), 7_000);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.ok(retryDelayMs(1, 2_000, retryDefaults, () => 0) >= 2_000);
  });
});
