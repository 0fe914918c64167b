import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogWorker } from '../../../src/apps/log-worker/build.ts';
import type { LogSink } from '../../../src/apps/log-worker/sink.ts';
import { MemoryTransport } from '../../../src/transport/memory/index.ts';

/** A sink that stores nothing and counts close() calls: lifecycle only, no storage claims. */
function countingSink(): LogSink & { closes: number } {
  const sink = {
    name: 'postgres' as const,
    closes: 0,
    write: () => Promise.resolve([]),
    flush: () => undefined,
    close: () => {
      sink.closes += 1;
      return Promise.resolve();
    },
  };
  return sink;
}

test('stop() before start() and stop() twice are safe, and a stopped worker refuses to start', async () => {
  const transport = new MemoryTransport();
  await transport.ensureTopics([{ name: 'app-logs', partitions: 3 }]);
  const sink = countingSink();
  const worker = createLogWorker({ subscriber: transport, publisher: transport, sink, topic: 'app-logs', group: 'g' });
  await worker.stop();
  await worker.stop();
  assert.equal(sink.closes, 1, 'the sink is closed once');
  await assert.rejects(worker.start(), { code: 'KITSUNE_TRANSPORT_CLOSED' });
  await transport.close();
});

test('stop() during start() waits for it and closes the subscription it made', async () => {
  const transport = new MemoryTransport();
  await transport.ensureTopics([{ name: 'app-logs', partitions: 3 }]);
  const sink = countingSink();
  const worker = createLogWorker({ subscriber: transport, publisher: transport, sink, topic: 'app-logs', group: 'g' });
  const started = worker.start();
  await worker.stop();
  await started;
  assert.equal(sink.closes, 1);
  // A second member of the group gets every partition: the first one left it.
  const other = await transport.subscribeBatch('app-logs', () => Promise.resolve(), { group: 'g' });
  assert.deepEqual(other.assignedPartitions(), [0, 1, 2]);
  await other.close();
  await transport.close();
});
