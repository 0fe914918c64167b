/**
 * The API's body limit and the broker's record limit agree, on a real Kafka broker with Kitsune's
 * topics created as a role creates them (kitsuneTopics): a body of exactly KITSUNE_BODY_LIMIT_BYTES
 * is accepted, and its event, larger than the body, is on both topics and consumed from them; one
 * byte more is a 413 in the one error shape; a body within the limit whose event is not (numbers
 * written with exponents are sent in full) is a 413 too, and nothing is published.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApi } from '../../../src/apps/api/build.ts';
import { loadConfig, type Config } from '../../../src/config/index.ts';
import { kitsuneTopics } from '../../../src/transport/from-config.ts';
import { createKafkaTransport, type KafkaTransport } from '../../../src/transport/kafka/index.ts';
import type { ReceivedMessage } from '../../../src/transport/types.ts';
import { readWholeTopic } from '../../support/kafka-topic.ts';
import { kafkaBrokers, kafkaSkip } from '../../support/services.ts';
import { collect, testAppRegistry, waitFor } from '../db-worker/support.ts';

/** A store_document command (test/fixtures/app) whose JSON is exactly `bytes` long, and the length of its text. */
function documentOfSize(key: string, bytes: number): { body: string; textLength: number } {
  const shape = (text: string): string => JSON.stringify({ command: 'store_document', version: '1', payload: { key, text }, metadata: { source: 'size-test' } });
  const textLength = bytes - Buffer.byteLength(shape(''));
  const body = shape('x'.repeat(textLength));
  assert.equal(Buffer.byteLength(body), bytes);
  return { body, textLength };
}

describe('the largest body the API accepts makes records a real Kafka broker accepts', { skip: kafkaSkip }, () => {
  let config: Config;
  let transport: KafkaTransport;
  let app: FastifyInstance;

  const execute = (body: string): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'application/json' }, payload: body });

  before(async () => {
    const suffix = randomUUID();
    // The defaults a role runs with (a 1 MiB body limit), on topics of this test's own.
    config = loadConfig({
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KITSUNE_TOPIC_DB_EVENTS: `db-events-${suffix}`,
      KITSUNE_TOPIC_APP_LOGS: `app-logs-${suffix}`,
      KITSUNE_TOPIC_DB_RESULTS: `db-results-${suffix}`,
    });
    assert.equal(config.http.bodyLimitBytes, 1_048_576);
    transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'record-size-test', requestTimeoutMs: 15_000 });
    await transport.ensureTopics(kitsuneTopics(config));
    app = await buildApi({
      registry: await testAppRegistry(),
      publisher: transport,
      topics: { dbEvents: config.topics.dbEvents, appLogs: config.topics.appLogs },
      limits: { bodyLimitBytes: config.http.bodyLimitBytes, maxJsonDepth: 16, logMessageMaxBytes: 16_384, batchMaxItems: 10, publishTimeoutMs: 30_000 },
      logger: false,
    });
  });
  after(async () => {
    await app?.close();
    await transport?.close();
  });

  test('a body of exactly KITSUNE_BODY_LIMIT_BYTES is accepted, and its event is consumed from db-events and app-logs', async () => {
    const limit = config.http.bodyLimitBytes;
    const { body, textLength } = documentOfSize(`doc-${randomUUID()}`, limit);
    const response = await execute(body);
    assert.equal(response.statusCode, 202, response.body);
    const { id } = response.json<{ id: string }>();
    const [events, logs] = await Promise.all([collect(transport, config.topics.dbEvents), collect(transport, config.topics.appLogs)]);
    const find = (seen: ReceivedMessage[]): ReceivedMessage | undefined => seen.find((message) => message.id === id);
    for (const [topic, seen] of [[config.topics.dbEvents, events], [config.topics.appLogs, logs]] as const) {
      const record = await waitFor(`the event on ${topic}`, 60_000, () => find(seen));
      assert.ok(record.value.length > limit, `the event (${record.value.length} bytes) is larger than the body (${limit})`);
      const event = JSON.parse(record.value.toString('utf8')) as { id: string; payload: { text: string } };
      assert.equal(event.id, id);
      assert.equal(event.payload.text.length, textLength, 'the text arrived whole');
    }
  });

  test('one byte over the limit is a 413 body_too_large in the one error shape, naming the limit', async () => {
    const response = await execute(documentOfSize(`doc-${randomUUID()}`, config.http.bodyLimitBytes + 1).body);
    assert.equal(response.statusCode, 413, response.body);
    const body = response.json<{ error: { code: string; message: string } }>();
    assert.deepEqual(Object.keys(body), ['error']);
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
    assert.equal(body.error.code, 'body_too_large');
    assert.match(body.error.message, /1048576 bytes/);
  });

  test('a body within the limit whose event is over the topics\' record limit is a 413, and nothing is published', async () => {
    const key = `doc-${randomUUID()}`;
    // 1e20 is sent as 100000000000000000000: 5 bytes of body become 22 of event.
    const numbers = Array.from({ length: 200_000 }, () => '1e20').join(',');
    const body = `{"command":"store_document","version":"1","payload":{"key":"${key}","text":"","numbers":[${numbers}]}}`;
    assert.ok(Buffer.byteLength(body) <= config.http.bodyLimitBytes);
    const response = await execute(body);
    assert.equal(response.statusCode, 413, response.body);
    const { error } = response.json<{ error: { code: string; message: string; field?: string } }>();
    assert.equal(error.code, 'body_too_large');
    assert.match(error.message, /record limit/);
    const published = await readWholeTopic(config.topics.dbEvents);
    assert.equal(published.filter((record) => record.key?.toString() === key).length, 0, 'nothing of the refused command reached db-events');
  });
});
