/**
 * One create_user, traced end to end: the three roles run as processes on the real broker and
 * PostgreSQL with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP receiver the test runs, and the
 * receiver must get one trace holding the API's server span, both producer spans, the DB worker's
 * process and SQL spans and the log worker's process and Loki push spans, in that parentage.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadRegistry } from '../../src/commands/index.ts';
import { repoRoot } from '../../scripts/services/state.ts';
import { freshNames } from '../cli/support.ts';
import { createDatabase } from '../support/database.ts';
import { startLokiServer, type LokiTestServer } from '../support/loki/index.ts';
import { startCollectorReceiver } from '../support/otlp/otel-collector.ts';
import { startTraceReceiver, type TraceReceiver } from '../support/otlp/receiver.ts';
import { SpanKinds, type ReceivedSpan } from '../support/otlp/spans.ts';
import { kafkaBrokers, kafkaSkip } from '../support/services.ts';
import { role, type Role } from './roles.ts';

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 200));
  }
}

interface Accepted {
  id: string;
}

describe('OpenTelemetry traces across the API, Kafka, the DB worker and the log worker', { skip: kafkaSkip }, () => {
  let api: Role;
  let dbWorker: Role;
  let receiver: TraceReceiver;
  let loki: LokiTestServer;
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  before(async () => {
    const t = { after: (fn: () => unknown) => void cleanups.push(fn) };
    // A real OpenTelemetry Collector where one is built here, else the receiver in the test tree.
    receiver = (await startCollectorReceiver(t)) ?? (await startTraceReceiver());
    t.after(() => receiver.close());
    const database = await createDatabase();
    t.after(() => database.drop());
    loki = await startLokiServer();
    t.after(() => loki.close());
    const env = {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      POSTGRES_DSN: database.dsn,
      LOKI_URL: loki.url,
      KITSUNE_LOKI_BATCH_WAIT_MS: '100',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: receiver.protocol,
      OTEL_TRACES_SAMPLER: 'always_on',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'kitsune-trace-test',
      ...freshNames(),
    };
    api = await role(t, 'api', env);
    await api.start();
    dbWorker = await role(t, 'db-worker', env);
    const logWorker = await role(t, 'log-worker', env);
    await Promise.all([dbWorker.start(), logWorker.start()]);
  });

  const execute = async (email: string): Promise<string> => {
    const response = await fetch(`http://${api.target}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'create_user', version: '1', payload: { name: 'Ada', email }, log: { level: 'INFO', message: 'User created' } }),
    });
    assert.equal(response.status, 202);
    return ((await response.json()) as Accepted).id;
  };

  test('one create_user yields one trace from the HTTP request to the SQL statement and the Loki push', async () => {
    const email = `ada-${randomUUID()}@example.com`;
    const id = await execute(email);
    const result = await (await fetch(`http://${api.target}/events/${id}?wait=30`)).json() as { status: string };
    assert.equal(result.status, 'succeeded');
    await until('the line in Loki', 30_000, () => Promise.resolve(loki.entries().some((e) => e.line.includes(id)) || undefined));

    const server = await until('the API server span', 30_000, async () =>
      (await receiver.spans()).find((s) => s.kind === SpanKinds.server && s.name === 'POST /execute'),
    );
    const wanted = (spans: ReceivedSpan[]): Record<string, ReceivedSpan | undefined> => {
      const inTrace = spans.filter((s) => s.traceId === server.traceId);
      const named = (kind: number, name: string): ReceivedSpan | undefined => inTrace.find((s) => s.kind === kind && s.name === name);
      return {
        sendDbEvents: inTrace.find((s) => s.kind === SpanKinds.producer && s.name.startsWith('send db-events')),
        sendAppLogs: inTrace.find((s) => s.kind === SpanKinds.producer && s.name.startsWith('send app-logs')),
        processDbEvents: inTrace.find((s) => s.kind === SpanKinds.consumer && s.name.startsWith('process db-events')),
        sql: named(SpanKinds.client, 'INSERT create_user'),
        processAppLogs: inTrace.find((s) => s.kind === SpanKinds.consumer && s.name.startsWith('process app-logs')),
        lokiPush: named(SpanKinds.client, 'loki push'),
      };
    };
    const spans = await until('every span of the trace', 30_000, async () => {
      const found = wanted(await receiver.spans());
      return Object.values(found).every((s) => s !== undefined) ? (found as Record<string, ReceivedSpan>) : undefined;
    });
    const { sendDbEvents, sendAppLogs, processDbEvents, sql, processAppLogs, lokiPush } = spans;

    assert.equal(server.attributes['http.route'], '/execute');
    assert.equal(server.attributes['http.response.status_code'], 202);
    assert.equal(server.service, 'kitsune-trace-test', 'OTEL_SERVICE_NAME is honoured');
    for (const send of [sendDbEvents!, sendAppLogs!]) {
      assert.equal(send.parentSpanId, server.spanId, `${send.name} is a child of the server span`);
      assert.equal(send.attributes['messaging.system'], 'kafka');
      assert.equal(send.attributes['messaging.operation.type'], 'send');
    }
    assert.equal(processDbEvents!.parentSpanId, sendDbEvents!.spanId, 'the DB worker continues from the db-events producer span');
    assert.equal(processDbEvents!.attributes['messaging.message.id'], id);
    assert.equal(processDbEvents!.attributes['kitsune.outcome'], 'succeeded');
    assert.equal(sql!.parentSpanId, processDbEvents!.spanId);
    const registry = await loadRegistry(join(repoRoot, 'commands', 'registry.yaml'));
    assert.equal(sql!.attributes['db.query.text'], registry.get('create_user', '1')!.text, 'db.query.text is the registry statement');
    assert.equal(sql!.attributes['db.system.name'], 'postgresql');
    assert.equal(processAppLogs!.parentSpanId, sendAppLogs!.spanId, 'the log worker continues from the app-logs producer span');
    assert.ok(lokiPush!.links.some((link) => link.traceId === server.traceId && link.spanId === sendAppLogs!.spanId), 'the push links to the record');

    const everything = JSON.stringify(await receiver.spans());
    assert.ok(!everything.includes(email), 'no payload value is recorded in any span');
  });

  test('a dead-lettered event is logged with the trace id and span id of its process span', async () => {
    const email = `grace-${randomUUID()}@example.com`;
    await execute(email);
    const second = await execute(email); // same email, new key: 23505, dead-lettered
    const line = await until('the dead-letter log line', 30_000, () =>
      Promise.resolve(
        dbWorker
          .output()
          .split('\n')
          .filter((l) => l.includes('"msg":"event dead-lettered"') && l.includes(second))
          .map((l) => JSON.parse(l) as { trace_id?: string; span_id?: string })[0],
      ),
    );
    assert.match(line.trace_id ?? '', /^[0-9a-f]{32}$/);
    const process = await until('the process span of the dead-lettered event', 30_000, async () =>
      // The delivery that dead-lettered it (an earlier attempt of its batch may have been retried).
      (await receiver.spans()).find((s) => s.kind === SpanKinds.consumer && s.attributes['messaging.message.id'] === second && s.attributes['kitsune.outcome'] === 'dead_lettered'),
    );
    assert.equal(line.trace_id, process.traceId);
    assert.equal(line.span_id, process.spanId);
  });
});
