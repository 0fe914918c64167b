import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../../src/apps/api/build.ts';
import { createLogWorker, type LogWorker } from '../../../src/apps/log-worker/build.ts';
import { createLokiSink } from '../../../src/apps/log-worker/loki-sink.ts';
import { loadRegistry } from '../../../src/commands/index.ts';
import { createKafkaTransport, type KafkaTransport } from '../../../src/transport/kafka/index.ts';
import { repoRoot } from '../../../scripts/services/state.ts';
import { startLokiServer, type LokiTestServer } from '../../support/loki/index.ts';
import { kafkaBrokers, kafkaSkip } from '../../support/services.ts';
import { waitFor } from './helpers.ts';

describe('POST /execute → app-logs on Kafka → log worker → Loki', { skip: kafkaSkip }, () => {
  const topics = { dbEvents: `db-events-${randomUUID()}`, appLogs: `app-logs-${randomUUID()}` };
  let transport: KafkaTransport;
  let app: FastifyInstance;
  let loki: LokiTestServer;
  let worker: LogWorker;

  before(async () => {
    loki = await startLokiServer({ requireTenant: true });
    transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'log-worker-test' });
    await transport.ensureTopics([
      { name: topics.dbEvents, partitions: 6 },
      { name: topics.appLogs, partitions: 3 },
      { name: `${topics.appLogs}.dlq`, partitions: 1 },
    ]);
    app = await buildApi({
      registry: await loadRegistry(join(repoRoot, 'commands', 'registry.yaml')),
      publisher: transport,
      topics,
      limits: { bodyLimitBytes: 64 * 1024, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 100, publishTimeoutMs: 30_000 },
      logger: false,
    });
    worker = createLogWorker({
      subscriber: transport,
      publisher: transport,
      sink: createLokiSink({ url: loki.url, tenant: 'acme', serviceName: 'kitsune', batchWaitMs: 100 }),
      topic: topics.appLogs,
      group: `log-worker-${randomUUID()}`,
    });
    await worker.start();
  });
  after(async () => {
    await worker.stop();
    await app.close();
    await transport.close();
    await loki.close();
  });

  test('the accepted command\'s log line can be queried back with its labels and the event id in structured metadata', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await app.inject({
      method: 'POST',
      url: '/execute',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      payload: JSON.stringify({
        command: 'create_user',
        version: '1',
        payload: { name: 'Sahil', email: 'sahil@example.com' },
        log: { level: 'INFO', message: 'User created' },
        metadata: { source: 'user-service', idempotency_key: `signup-${randomUUID()}` },
      }),
    });
    assert.equal(response.statusCode, 202, response.body);
    const { id, idempotency_key: idempotencyKey } = response.json<{ id: string; idempotency_key: string }>();

    // What Grafana sends: a stream selector, a structured-metadata filter, categorised labels.
    const query = async (): Promise<Array<{ stream: Record<string, string>; values: unknown[][] }>> => {
      const params = new URLSearchParams({ query: `{service="kitsune", command="create_user"} | event_id="${id}"`, limit: '10' });
      const answer = await fetch(`${loki.url}/loki/api/v1/query_range?${params.toString()}`, {
        headers: { 'X-Scope-OrgID': 'acme', 'X-Loki-Response-Encoding-Flags': 'categorize-labels' },
      });
      assert.equal(answer.status, 200, await answer.clone().text());
      return ((await answer.json()) as { data: { result: Array<{ stream: Record<string, string>; values: unknown[][] }> } }).data.result;
    };
    let result: Awaited<ReturnType<typeof query>> = [];
    await waitFor('the line in Loki', async () => (result = await query()).length > 0, 20_000);

    assert.equal(result.length, 1);
    const [stream] = result as [(typeof result)[number]];
    assert.deepEqual(stream.stream, { service: 'kitsune', level: 'INFO', command: 'create_user', source: 'user-service', service_name: 'kitsune' }, 'four bounded labels, no ids');
    assert.equal(stream.values.length, 1);
    const [ts, line, categorized] = stream.values[0] as [string, string, { structuredMetadata: Record<string, string> }];
    assert.deepEqual(JSON.parse(line), { msg: 'User created', event_id: id });
    const { span_id: spanId, ...metadata } = categorized.structuredMetadata;
    assert.deepEqual(metadata, { event_id: id, idempotency_key: idempotencyKey, trace_id: traceId });
    assert.match(spanId ?? '', /^[0-9a-f]{16}$/, 'span_id: the API span that sent the record, under the caller\'s trace');

    // The entry's time is the event's own (when the API accepted it), not the push's.
    const stored = loki.entries('acme');
    assert.equal(stored.length, 1);
    assert.equal(ts, stored[0]?.ts.toString());
    assert.equal(Number(stored[0]!.ts % 1_000_000n), 0, 'millisecond precision, as metadata.timestamp');
    assert.ok(Math.abs(Number(stored[0]!.ts / 1_000_000n) - Date.now()) < 60_000);
    const counters = worker.counters();
    assert.equal(counters.delivered.get('loki'), 1);
    assert.equal(counters.deadLettered.size, 0);
  });
});
