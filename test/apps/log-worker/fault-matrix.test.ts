import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { createLogWorker } from '../../../src/apps/log-worker/build.ts';
import { createLokiSink } from '../../../src/apps/log-worker/loki-sink.ts';
import { LogWorkerMetrics } from '../../../src/apps/log-worker/metrics.ts';
import { DeadLetterReasons } from '../../../src/apps/log-worker/sink.ts';
import { LokiFailures } from '../../../src/loki/index.ts';
import { dlqHeaders } from '../../../src/transport/dead-letter.ts';
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import type { OutgoingMessage } from '../../../src/transport/types.ts';
import { FaultKinds, Reasons, startLokiServer } from '../../support/loki/index.ts';
import { kafkaBrokers, kafkaSkip } from '../../support/services.ts';
import { appLogRecord, logEvent, malformedRecord, publishAll, readTopic, storedCounts, waitFor } from './helpers.ts';

const total = 5_000;
const maxLineSize = 1_024;
const retryAfterSeconds = 2;
const faultMs = 10_000;
const streams = 6;

describe('log worker under Loki faults, against a real Kafka broker', { skip: kafkaSkip }, () => {
  test('through 429s, 500s, a hung push and an oversize line, every other line is stored exactly once and the oversize one is dead-lettered with Loki\'s reason', async (t) => {
    const topic = `app-logs-${randomUUID()}`;
    const dlqTopic = `${topic}.dlq`;
    const loki = await startLokiServer({ limits: { maxLineSize } });
    t.after(() => loki.close());
    const transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'log-worker-faults' });
    t.after(() => transport.close());
    await transport.ensureTopics([
      { name: topic, partitions: 3 },
      { name: dlqTopic, partitions: 1 },
    ]);

    // Faults in order, each starting at the first push it answers.
    loki.faults.push(
      { kind: FaultKinds.STATUS, status: 429, retryAfterSeconds, forMs: faultMs },
      { kind: FaultKinds.STATUS, status: 500, forMs: faultMs },
      // Hangs until the worker's push timeout gives up on it.
      { kind: FaultKinds.HANG, count: 1 },
    );
    const metrics = new LogWorkerMetrics();
    const worker = createLogWorker({
      subscriber: transport,
      publisher: transport,
      sink: createLokiSink({ url: loki.url, serviceName: 'kitsune', batchWaitMs: 200, timeoutMs: 5_000, backoff: { baseMs: 100, maxMs: 2_000 }, metrics }),
      topic,
      group: `log-worker-${randomUUID()}`,
      metrics,
    });
    t.after(() => worker.stop());
    await worker.start();

    const events = Array.from({ length: total }, (_, i) => (i === 2_345 ? logEvent(i, { message: 'x'.repeat(2 * maxLineSize) }) : logEvent(i)));
    const oversize = events[2_345]!;
    const malformed = malformedRecord();
    const records: OutgoingMessage[] = events.map((event) => appLogRecord(event));
    records.splice(1_000, 0, malformed);
    // The events flow over ~5 s while the faults play out.
    const started = Date.now();
    for (let i = 0; i < records.length; i += 500) {
      await publishAll(transport, topic, records.slice(i, i + 500));
      await sleep(500);
    }

    const expected = new Set(events.filter((event) => event !== oversize).map((event) => event.id));
    await waitFor('every line in Loki', () => storedCounts(loki.entries()).size >= expected.size, 90_000, () => `(${storedCounts(loki.entries()).size} of ${expected.size})`);
    await waitFor('both dead letters counted', () => [...worker.counters().deadLettered.values()].reduce((a, b) => a + b, 0) >= 2, 20_000);
    const elapsedMs = Date.now() - started;

    // Exactly once: every expected id stored once, nothing else stored.
    const counts = storedCounts(loki.entries());
    assert.deepEqual(new Set(counts.keys()), expected);
    const doubled = [...counts].filter(([, n]) => n !== 1);
    assert.deepEqual(doubled, [], 'no line stored twice');
    const stats = loki.stats();
    assert.equal(stats.acceptedEntries, expected.size);

    // The oversize line and the malformed record are in the DLQ, with their reasons and origin.
    const letters = await readTopic(dlqTopic);
    assert.deepEqual(new Set(letters.map((letter) => letter.id)), new Set([oversize.id, malformed.id]));
    const oversizeLetter = letters.find((letter) => letter.id === oversize.id)!;
    assert.match(oversizeLetter.headers.get(dlqHeaders.reason) ?? '', new RegExp(`^Loki answered 400: Max entry size '${maxLineSize}' bytes exceeded`));
    assert.equal(oversizeLetter.headers.get(dlqHeaders.sourceTopic), topic);
    assert.deepEqual(oversizeLetter.value, appLogRecord(oversize).value, 'the original bytes travel unchanged');
    assert.ok(oversizeLetter.headers.get('traceparent'), 'the original headers travel too');
    const malformedLetter = letters.find((letter) => letter.id === malformed.id)!;
    assert.match(malformedLetter.headers.get(dlqHeaders.reason) ?? '', /^malformed event: not JSON/);
    assert.deepEqual(malformedLetter.value, malformed.value);

    // Counters by reason match what happened, and what Loki saw.
    const counters = worker.counters();
    assert.deepEqual(counters.deadLettered, new Map([[DeadLetterReasons.malformedEvent, 1], [DeadLetterReasons.rejectedByLoki, 1]]));
    assert.equal(counters.dropped.size, 0, 'nothing dropped');
    assert.equal(counters.delivered.get('loki'), expected.size);
    assert.equal(counters.received, total + 1);
    assert.deepEqual([...stats.rejectedEntries.keys()], [Reasons.LINE_TOO_LONG], 'Loki refused nothing else');
    for (const failure of [LokiFailures.rateLimited, LokiFailures.serverError, LokiFailures.timeout]) {
      assert.ok((counters.retries.get(failure) ?? 0) >= 1, `retried after ${failure}: ${JSON.stringify([...counters.retries])}`);
    }
    // At most one retry per answer: a 429 or 500 that reached the worker after its own timeout
    // (a loaded machine) was retried as a timeout instead, so the counts need not be equal.
    assert.ok((counters.retries.get(LokiFailures.rateLimited) ?? 0) <= (stats.responses.get(429) ?? 0), 'no more retries than 429s answered');
    assert.ok((counters.retries.get(LokiFailures.serverError) ?? 0) <= (stats.responses.get(500) ?? 0), 'no more retries than 500s answered');
    // Retry-After honoured: each stream tried at most once per Retry-After during the 429 window.
    const allowed429 = streams * (faultMs / 1000 / retryAfterSeconds + 1);
    assert.ok((stats.responses.get(429) ?? 0) <= allowed429, `${stats.responses.get(429)} answers 429, at most ${allowed429} expected`);

    t.diagnostic(
      `${elapsedMs} ms; pushes ${stats.pushesReceived}; answers ${JSON.stringify([...stats.responses])}; ` +
        `retries ${JSON.stringify([...counters.retries])}; Loki dropped ${stats.duplicateEntries} identical re-sent entries`,
    );
  });
});
