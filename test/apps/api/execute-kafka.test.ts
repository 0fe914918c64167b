import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApi } from '../../../src/apps/api/build.ts';
import { loadRegistry } from '../../../src/commands/index.ts';
import type { CommandEvent } from '../../../src/events/envelope.ts';
import { EventIds } from '../../../src/events/event-ids.ts';
import { createKafkaTransport, type KafkaTransport } from '../../../src/transport/kafka/index.ts';
import { repoRoot } from '../../../scripts/services/state.ts';
import { readWholeTopic } from '../../support/kafka-topic.ts';
import { freezeBroker } from '../../support/broker-freeze.ts';
import { kafkaBrokers, kafkaPid, kafkaSkip } from '../../support/services.ts';

interface Consumed {
  key: string | undefined;
  value: CommandEvent;
  headers: Map<string, string>;
}

/** Every record on `topic` up to now (its end offsets when called). */
async function readAll(topic: string): Promise<Consumed[]> {
  return (await readWholeTopic(topic)).map((record) => ({
    key: record.key?.toString(),
    value: JSON.parse(record.value.toString()) as CommandEvent,
    headers: record.headers,
  }));
}

const eventIds = new EventIds(Buffer.alloc(32, 1));

const createUser = (email: string): Record<string, unknown> => ({
  command: 'create_user',
  version: '1',
  payload: { name: 'Sahil', email },
  log: { level: 'INFO', message: 'User created' },
  metadata: { source: 'user-service' },
});

describe('POST /execute against a real Kafka broker', { skip: kafkaSkip }, () => {
  let transport: KafkaTransport;
  let app: FastifyInstance;
  const topics = { dbEvents: `db-events-${randomUUID()}`, appLogs: `app-logs-${randomUUID()}` };

  const execute = (body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

  before(async () => {
    transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'api-test', requestTimeoutMs: 15_000, retries: 0 });
    await transport.ensureTopics([
      { name: topics.dbEvents, partitions: 6 },
      { name: topics.appLogs, partitions: 3 },
    ]);
    app = await buildApi({
      registry: await loadRegistry(join(repoRoot, 'commands', 'registry.yaml')),
      publisher: transport,
      topics,
      eventIds,
      // Generous: a topic created a moment ago on a busy CI machine may take a while to elect a leader.
      limits: { bodyLimitBytes: 64 * 1024, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 100, publishTimeoutMs: 10_000 },
      logger: false,
    });
  });
  after(async () => {
    await app.close();
    await transport.close();
  });

  test('create_user is answered 202 and lands once on each topic with envelope, entity key and headers', async () => {
    const response = await execute(createUser('sahil@example.com'), { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    assert.equal(response.statusCode, 202, response.body);
    const body = response.json<{ id: string; status: string; idempotency_key: string; links: { self: string } }>();
    assert.equal(body.status, 'accepted');
    assert.equal(body.links.self, `/events/${body.id}`);
    assert.notEqual(body.idempotency_key, body.id, 'without a key, Kitsune generates one');
    assert.equal(body.id, eventIds.idempotent('user-service', body.idempotency_key), 'and derives the id from it like any key');

    const [events, logs] = await Promise.all([readAll(topics.dbEvents), readAll(topics.appLogs)]);
    assert.equal(events.length, 1);
    assert.equal(logs.length, 1);
    const [event] = events as [Consumed];
    assert.equal(event.key, 'sahil@example.com', 'db-events is keyed by the entity key');
    assert.equal(logs[0]?.key, undefined, 'app-logs is unkeyed');
    assert.deepEqual(Object.keys(event.value).sort(), ['command', 'id', 'log', 'metadata', 'payload', 'version']);
    assert.equal(event.value.id, body.id);
    assert.equal(event.value.command, 'create_user');
    assert.equal(event.value.version, '1');
    assert.deepEqual(event.value.payload, { name: 'Sahil', email: 'sahil@example.com' });
    assert.deepEqual(event.value.log, { level: 'INFO', message: 'User created' });
    assert.equal(event.value.metadata.source, 'user-service');
    assert.equal(event.value.metadata.idempotency_key, body.idempotency_key);
    assert.ok(Math.abs(Date.parse(event.value.metadata.timestamp) - Date.now()) < 60_000);
    for (const record of [event, logs[0]!]) {
      assert.equal(record.headers.get('kitsune-id'), body.id);
      assert.equal(record.headers.get('kitsune-command'), 'create_user');
      assert.equal(record.headers.get('kitsune-version'), '1');
      assert.match(record.headers.get('traceparent') ?? '', /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/, 'the caller\'s trace continues');
    }
  });
});

describe('idempotency and bad input against a real Kafka broker', { skip: kafkaSkip }, () => {
  let transport: KafkaTransport;
  let app: FastifyInstance;
  const topics = { dbEvents: `db-events-${randomUUID()}`, appLogs: `app-logs-${randomUUID()}` };
  const limits = { bodyLimitBytes: 8 * 1024, maxJsonDepth: 8, logMessageMaxBytes: 256, batchMaxItems: 10, publishTimeoutMs: 10_000 };
  const pausedDeadlineMs = 1_000;

  const send = (payload: string, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'POST', url: '/execute', headers, payload });

  before(async () => {
    transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'api-test', requestTimeoutMs: 15_000, retries: 0 });
    await transport.ensureTopics([
      { name: topics.dbEvents, partitions: 6 },
      { name: topics.appLogs, partitions: 3 },
    ]);
    app = await buildApi({ registry: await loadRegistry(join(repoRoot, 'commands', 'registry.yaml')), publisher: transport, topics, limits, logger: false });
  });
  after(async () => {
    await app.close();
    await transport.close();
  });

  test('the same request ten times with one Idempotency-Key gets ten 202s with the same id', async () => {
    const body = JSON.stringify(createUser('retry@example.com'));
    const responses = await Promise.all(Array.from({ length: 10 }, () => send(body, { 'content-type': 'application/json', 'idempotency-key': 'order-42' })));
    const ids = new Set(responses.map((r) => r.json<{ id: string }>().id));
    assert.deepEqual(responses.map((r) => r.statusCode), Array.from({ length: 10 }, () => 202));
    assert.equal(ids.size, 1);
    assert.equal(responses[0]?.json<{ idempotency_key: string }>().idempotency_key, 'order-42');
  });

  test('bad input gets its status and code, and no record reaches either topic', async () => {
    const valid = createUser('matrix@example.com');
    const deep = `{"command":"create_user","version":"1","payload":${'{"a":'.repeat(10)}1${'}'.repeat(10)}}`;
    const matrix: Array<{ name: string; payload: string; headers?: Record<string, string>; status: number; code: string; field?: string }> = [
      { name: 'malformed JSON', payload: '{"command": "create_user",', status: 400, code: 'invalid_json' },
      { name: 'wrong content type', payload: JSON.stringify(valid), headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
      { name: 'body over the limit', payload: JSON.stringify({ ...valid, payload: { name: 'x'.repeat(9_000), email: 'a@b.co' } }), status: 413, code: 'body_too_large' },
      { name: 'JSON nested too deep', payload: deep, status: 400, code: 'json_too_deep' },
      { name: '__proto__ key', payload: '{"command":"create_user","version":"1","payload":{"name":"x","email":"a@b.co","__proto__":{"admin":true}}}', status: 400, code: 'forbidden_key' },
      { name: 'constructor key', payload: '{"command":"create_user","version":"1","payload":{"constructor":{"prototype":{}}}}', status: 400, code: 'forbidden_key' },
      { name: 'unknown command', payload: JSON.stringify({ ...valid, command: 'drop_database' }), status: 422, code: 'unknown_command', field: '/command' },
      { name: 'command named constructor', payload: JSON.stringify({ ...valid, command: 'constructor' }), status: 422, code: 'unknown_command', field: '/command' },
      { name: 'command named toString', payload: JSON.stringify({ ...valid, command: 'toString' }), status: 422, code: 'unknown_command', field: '/command' },
      { name: 'unknown version', payload: JSON.stringify({ ...valid, version: '99' }), status: 422, code: 'unknown_version', field: '/version' },
      { name: 'payload failing its schema', payload: JSON.stringify({ ...valid, payload: { name: 'x', email: 'not-an-email' } }), status: 422, code: 'invalid_payload', field: '/payload/email' },
      { name: 'payload missing a field', payload: JSON.stringify({ ...valid, payload: { email: 'a@b.co' } }), status: 422, code: 'invalid_payload' },
      { name: 'oversize log message', payload: JSON.stringify({ ...valid, log: { level: 'INFO', message: 'x'.repeat(300) } }), status: 422, code: 'log_message_too_long', field: '/log/message' },
      { name: 'invalid log level', payload: JSON.stringify({ ...valid, log: { level: 'LOUD', message: 'hi' } }), status: 422, code: 'invalid_log', field: '/log/level' },
      { name: 'unknown top-level field', payload: JSON.stringify({ ...valid, extra: 1 }), status: 400, code: 'invalid_request', field: '/extra' },
      { name: 'body not an object', payload: '[1,2,3]', status: 400, code: 'invalid_request' },
      { name: 'NUL in a payload string', payload: JSON.stringify({ ...valid, payload: { name: 'x\u0000', email: 'a@b.co' } }), status: 400, code: 'invalid_request', field: '/payload/name' },
      { name: 'lone surrogate in the log message', payload: JSON.stringify({ ...valid, log: { level: 'INFO', message: 'x\ud800' } }), status: 400, code: 'invalid_request', field: '/log/message' },
    ];
    for (const c of matrix) {
      const response = await send(c.payload, c.headers);
      assert.equal(response.statusCode, c.status, `${c.name}: ${response.body}`);
      const { error } = response.json<{ error: { code: string; message: string; field?: string } }>();
      assert.equal(error.code, c.code, `${c.name}: ${response.body}`);
      assert.ok(error.message.length > 0, `${c.name} explains itself`);
      if (c.field) assert.equal(error.field, c.field, c.name);
    }
    const [events, logs] = await Promise.all([readAll(topics.dbEvents), readAll(topics.appLogs)]);
    const matrixRecords = [...events, ...logs].filter((r) => r.value.payload.email !== 'retry@example.com');
    assert.deepEqual(matrixRecords, [], 'no bad request produced a record');
  });

  // The paused broker never answers: only the API's own deadline can produce the 503 (a hang
  // would run into the test's timeout).
  test('with the broker paused, a request answers 503 with Retry-After after its deadline', { timeout: 60_000, skip: kafkaPid() === undefined && 'the broker is not run by this harness' }, async (t) => {
    const pid = kafkaPid()!;
    const impatient = await buildApi({ registry: await loadRegistry(join(repoRoot, 'commands', 'registry.yaml')), publisher: transport, topics, limits: { ...limits, publishTimeoutMs: pausedDeadlineMs }, logger: false });
    t.after(() => impatient.close());
    const thaw = await freezeBroker(pid);
    const started = Date.now();
    try {
      const response = await impatient.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(createUser('paused@example.com')) });
      const elapsed = Date.now() - started;
      assert.equal(response.statusCode, 503, response.body);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'broker_unavailable');
      assert.ok(Number(response.headers['retry-after']) >= 1, 'Retry-After says when to come back');
      assert.ok(elapsed >= pausedDeadlineMs * 0.9, `answered after ${elapsed} ms, not before the deadline`);
      t.diagnostic(`503 after ${elapsed} ms (deadline ${pausedDeadlineMs} ms)`);
    } finally {
      thaw();
    }
  });
});
