/**
 * The transport conformance suite: every implementation of the seam in src/transport/types.ts
 * must pass it before Kitsune relies on it. Implementations declare their guarantees as
 * TransportFeatures; tests that need a feature skip by feature, never by implementation name.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import { ErrorCodes } from '../../src/errors.ts';
import type {
  Handler,
  OutgoingMessage,
  PartitionLag,
  ReceivedMessage,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportFeatures,
} from '../../src/transport/types.ts';

export interface ConformanceHarness {
  /** Opens a transport on the shared backing store, as a new process would. */
  open(): Promise<Transport>;
  /**
   * How a child process opens the same transport (crossProcess transports only): a module whose
   * `open()` export returns a Transport, and the environment it needs.
   */
  child?: { module: string; env: Record<string, string> };
}

export interface ConformanceOptions {
  /** A reason to skip the whole suite (a missing service), or false. */
  skip?: string | false;
  /** How long to wait for deliveries that should happen. (Default: 30_000 ms) */
  deliveryTimeoutMs?: number;
}

const partitions = 4;
const fresh = (prefix: string): string => `${prefix}-${randomUUID()}`;

function message(i: number, key?: string): OutgoingMessage {
  return { id: `m-${i}-${randomUUID()}`, key, value: Buffer.from(JSON.stringify({ i })), headers: { seq: String(i) } };
}

const seqOf = (m: ReceivedMessage): number => Number(m.headers.seq);

async function waitFor(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(20);
  }
}

export function transportConformance(
  name: string,
  features: TransportFeatures,
  setup: () => Promise<ConformanceHarness>,
  options: ConformanceOptions = {},
): void {
  const timeout = options.deliveryTimeoutMs ?? 30_000;

  describe(`transport conformance: ${name}`, { skip: options.skip ?? false }, () => {
    let harness: ConformanceHarness;

    async function open(t: TestContext): Promise<Transport> {
      harness ??= await setup();
      const transport = await harness.open();
      t.after(() => transport.close());
      return transport;
    }

    async function topic(transport: Transport, count = partitions): Promise<string> {
      const name = fresh('conformance');
      await transport.ensureTopics([{ name, partitions: count }]);
      return name;
    }

    /** Subscribes and records every delivery (including redeliveries). */
    async function record(
      transport: Transport,
      topicName: string,
      subscribeOptions: SubscribeOptions,
      handler: Handler = () => Promise.resolve(),
    ): Promise<{ received: ReceivedMessage[]; subscription: Subscription }> {
      const received: ReceivedMessage[] = [];
      const subscription = await transport.subscribe(
        topicName,
        async (m) => {
          await handler(m);
          received.push(m);
        },
        subscribeOptions,
      );
      return { received, subscription };
    }

    const distinctSeqs = (received: readonly ReceivedMessage[]): Set<number> => new Set(received.map(seqOf));

    test('every published message is delivered to a group', async (t) => {
      const transport = await open(t);
      const name = await topic(transport);
      const sent = Array.from({ length: 200 }, (_, i) => message(i, i % 3 === 0 ? undefined : `k${i % 10}`));
      const { received } = await record(transport, name, { group: fresh('g') });
      await transport.publish(name, sent);
      await waitFor(() => distinctSeqs(received).size === sent.length, timeout, () => `${received.length}/200`);
      assert.equal(received.length, sent.length, 'no message is delivered twice without a failure');
    });

    test('a message whose handler throws is redelivered, before later messages of its partition', async (t) => {
      const transport = await open(t);
      const name = await topic(transport, 1);
      let thrown = 0;
      const { received } = await record(transport, name, { group: fresh('g'), redeliveryDelayMs: 50 }, (m) => {
        if (seqOf(m) === 3 && thrown < 2) {
          thrown++;
          return Promise.reject(new Error('handler failure'));
        }
        return Promise.resolve();
      });
      await transport.publish(name, Array.from({ length: 6 }, (_, i) => message(i, 'same-key')));
      await waitFor(() => received.length === 6, timeout, () => `${received.length}/6`);
      assert.deepEqual(received.map(seqOf), [0, 1, 2, 3, 4, 5]);
      assert.equal(thrown, 2);
      assert.equal(received[3]?.attempt, 3, 'the third delivery of message 3 succeeded');
      assert.equal(received[4]?.attempt, 1);
    });

    test('key, headers, id and bytes arrive intact', async (t) => {
      const transport = await open(t);
      const name = await topic(transport);
      const value = Buffer.from([0, 1, 2, 255, 254, 0x7b, 0x22]);
      const headers = {
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        'x-unicode': 'ünïcødé ключ 🦊',
        empty: '',
        constructor: 'not special',
      };
      const sent: OutgoingMessage = { id: randomUUID(), key: 'entity-ü-1', value, headers };
      const { received } = await record(transport, name, { group: fresh('g') });
      await transport.publish(name, [sent, { id: randomUUID(), value: Buffer.alloc(0) }]);
      await waitFor(() => received.length === 2, timeout, () => `${received.length}/2`);
      const got = received.find((m) => m.id === sent.id);
      assert.ok(got, 'the keyed message arrived with its id');
      assert.equal(got.key, sent.key);
      assert.ok(got.value.equals(value), 'bytes unchanged');
      for (const [header, headerValue] of Object.entries(headers)) assert.equal(got.headers[header], headerValue, header);
      assert.equal(Object.getPrototypeOf(got.headers), null, 'headers are a null-prototype record');
      assert.equal('toString' in got.headers, false, 'no inherited names leak in as headers');
      assert.equal(got.topic, name);
      assert.ok(got.partition >= 0 && got.partition < partitions);
      assert.equal(typeof got.offset, 'bigint');
      assert.ok(got.timestamp > Date.now() - 60_000 && got.timestamp <= Date.now() + 1_000, 'timestamp is recent');
      const unkeyed = received.find((m) => m.id !== sent.id);
      assert.equal(unkeyed?.key, undefined);
      assert.equal(unkeyed?.value.length, 0);
    });

    test('two groups each receive everything', { skip: !features.consumerGroups && 'no consumer groups' }, async (t) => {
      const transport = await open(t);
      const name = await topic(transport);
      const a = await record(transport, name, { group: fresh('a') });
      const b = await record(transport, name, { group: fresh('b') });
      await transport.publish(name, Array.from({ length: 100 }, (_, i) => message(i, `k${i}`)));
      await waitFor(() => distinctSeqs(a.received).size === 100 && distinctSeqs(b.received).size === 100, timeout, () => `a ${a.received.length}, b ${b.received.length}`);
    });

    test('members of one group split the partitions between them', { skip: !features.consumerGroups && 'no consumer groups' }, async (t) => {
      const first = await open(t);
      const second = await open(t);
      const name = await topic(first);
      const group = fresh('g');
      const one = await record(first, name, { group });
      const two = await record(second, name, { group });
      const assigned = (): string => `${one.subscription.assignedPartitions().join(',')} | ${two.subscription.assignedPartitions().join(',')}`;
      await waitFor(
        () =>
          one.subscription.assignedPartitions().length > 0 &&
          two.subscription.assignedPartitions().length > 0 &&
          one.subscription.assignedPartitions().length + two.subscription.assignedPartitions().length === partitions,
        timeout,
        assigned,
      );
      const overlap = one.subscription.assignedPartitions().filter((p) => two.subscription.assignedPartitions().includes(p));
      assert.deepEqual(overlap, [], `no partition has two owners: ${assigned()}`);
      await first.publish(name, Array.from({ length: 200 }, (_, i) => message(i, `k${i}`)));
      const all = (): Set<number> => distinctSeqs([...one.received, ...two.received]);
      await waitFor(() => all().size === 200, timeout, () => `${all().size}/200`);
      assert.ok(one.received.length > 0 && two.received.length > 0, 'both members did work');
      for (const m of one.received) assert.ok(!two.subscription.assignedPartitions().includes(m.partition));
    });

    test('messages with the same key arrive in publish order (1,000 over 16 keys)', { skip: !features.orderedByKey && 'no key order' }, async (t) => {
      const transport = await open(t);
      const name = await topic(transport);
      const { received } = await record(transport, name, { group: fresh('g'), maxBatchSize: 37 });
      const sent = Array.from({ length: 1000 }, (_, i) => message(i, `entity-${i % 16}`));
      for (let i = 0; i < sent.length; i += 100) await transport.publish(name, sent.slice(i, i + 100));
      await waitFor(() => received.length >= 1000, timeout, () => `${received.length}/1000`);
      const lastByKey = new Map<string, number>();
      for (const m of received) {
        const previous = lastByKey.get(m.key ?? '') ?? -1;
        assert.ok(seqOf(m) > previous, `key ${m.key}: ${seqOf(m)} after ${previous}`);
        lastByKey.set(m.key ?? '', seqOf(m));
      }
      assert.equal(lastByKey.size, 16);
    });

    test('a batch handler gets one partition at a time, in offset order', async (t) => {
      const transport = await open(t);
      const name = await topic(transport);
      const batches: ReceivedMessage[][] = [];
      const subscription = await transport.subscribeBatch(name, (batch) => {
        batches.push([...batch]);
        return Promise.resolve();
      }, { group: fresh('g'), maxBatchSize: 50 });
      t.after(() => subscription.close());
      await transport.publish(name, Array.from({ length: 300 }, (_, i) => message(i, `k${i % 8}`)));
      await waitFor(() => batches.flat().length === 300, timeout, () => `${batches.flat().length}/300`);
      for (const batch of batches) {
        assert.ok(batch.length > 0 && batch.length <= 50, `batch of ${batch.length}`);
        assert.equal(new Set(batch.map((m) => m.partition)).size, 1, 'one partition per batch');
        for (let i = 1; i < batch.length; i++) assert.ok(batch[i]!.offset > batch[i - 1]!.offset);
      }
    });

    test('a consumer resumes from its committed offsets after a restart', async (t) => {
      const first = await open(t);
      const name = await topic(first);
      const group = fresh('g');
      const before = await record(first, name, { group });
      await first.publish(name, Array.from({ length: 50 }, (_, i) => message(i, `k${i}`)));
      await waitFor(() => before.received.length === 50, timeout, () => `${before.received.length}/50`);
      await first.close();

      const second = await open(t);
      await second.publish(name, Array.from({ length: 50 }, (_, i) => message(50 + i, `k${i}`)));
      const after = await record(second, name, { group });
      await waitFor(() => distinctSeqs(after.received).size === 50, timeout, () => `${after.received.length}/50`);
      // No wait for stragglers: each partition is delivered in order, and every old message sits
      // before the new ones of its partition, so one redelivered would have come already.
      assert.deepEqual([...distinctSeqs(after.received)].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => 50 + i));
    });

    test(
      'a consumer killed with SIGKILL mid-stream loses nothing once another takes over',
      { skip: !(features.crossProcess && features.persistent) && 'needs a persistent, cross-process transport' },
      async (t) => {
        const transport = await open(t);
        const child = harness.child;
        assert.ok(child, 'a cross-process transport provides a child factory');
        const name = await topic(transport);
        const group = fresh('g');
        const total = 600;
        await transport.publish(name, Array.from({ length: total }, (_, i) => message(i, `k${i % 20}`)));

        const acknowledged = new Set<number>();
        const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./consumer-child.ts', import.meta.url))], {
          env: { ...process.env, ...child.env, CHILD_MODULE: child.module, CHILD_TOPIC: name, CHILD_GROUP: group },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        t.after(() => proc.kill('SIGKILL'));
        createInterface({ input: proc.stdout }).on('line', (line) => {
          if (line.startsWith('ack ')) acknowledged.add(Number(line.slice(4)));
        });
        await waitFor(() => acknowledged.size >= total / 4, timeout, () => `child acknowledged ${acknowledged.size}`);
        proc.kill('SIGKILL');
        await new Promise((resolveExit) => proc.once('exit', resolveExit));
        assert.ok(acknowledged.size < total, 'the child was killed mid-stream');

        const { received } = await record(transport, name, { group });
        const all = (): Set<number> => new Set([...acknowledged, ...received.map(seqOf)]);
        await waitFor(() => all().size === total, timeout * 2, () => `${all().size}/${total} (child ${acknowledged.size}, after ${received.length})`);
      },
    );

    test('close waits for in-flight handlers to finish', async (t) => {
      const transport = await open(t);
      const name = await topic(transport);
      let started = false;
      let finished = false;
      await transport.subscribe(
        name,
        async () => {
          started = true;
          await sleep(300);
          finished = true;
        },
        { group: fresh('g') },
      );
      await transport.publish(name, [message(1, 'k')]);
      await waitFor(() => started, timeout, () => 'the handler to start');
      await transport.close();
      assert.equal(finished, true);
    });

    test('pause stops delivery and resume continues it', async (t) => {
      const transport = await open(t);
      const name = await topic(transport);
      const { received, subscription } = await record(transport, name, { group: fresh('g') });
      await transport.publish(name, [message(0, 'k')]);
      await waitFor(() => received.length === 1, timeout, () => 'first delivery');
      subscription.pause();
      assert.equal(subscription.paused, true);
      await transport.publish(name, [message(1, 'k')]);
      await sleep(1_000);
      assert.equal(received.length, 1, 'nothing is delivered while paused');
      subscription.resume();
      await waitFor(() => received.length === 2, timeout, () => 'delivery after resume');
    });

    test('consumer lag counts the records a group has not committed and the age of the oldest, then falls to 0', async (t) => {
      const transport = await open(t);
      const name = await topic(transport, 2);
      const group = fresh('g');
      const lag = (): Promise<PartitionLag[]> => transport.consumerLag([{ group, topic: name }, { group, topic: fresh('missing') }]);
      const publishing = Date.now();
      await transport.publish(name, Array.from({ length: 10 }, (_, i) => message(i, `k${i}`)));
      const acknowledged = Date.now();
      // No member has ever consumed: the lag must still be there, and age with the clock.
      await waitFor(() => Date.now() - acknowledged > 1_200, timeout, () => 'the clock');
      const reading = Date.now();
      const behind = await lag();
      const read = Date.now();
      assert.deepEqual(behind.map((p) => [p.group, p.topic, p.partition]), [[group, name, 0], [group, name, 1]], 'one row per partition; a missing topic has none');
      assert.equal(behind.reduce((sum, p) => sum + p.records, 0), 10);
      for (const p of behind) {
        if (p.records === 0) assert.equal(p.seconds, 0);
        else {
          assert.ok(p.seconds >= (reading - acknowledged) / 1000 - 0.05, `partition ${p.partition}: ${p.seconds} s is at least the time since the publish`);
          assert.ok(p.seconds <= (read - publishing) / 1000 + 0.5, `partition ${p.partition}: ${p.seconds} s is at most the time since publishing began`);
        }
      }
      const { received } = await record(transport, name, { group });
      await waitFor(() => received.length === 10, timeout, () => `${received.length}/10`);
      // Offsets are committed after the handlers resolved, not with them.
      const deadline = Date.now() + timeout;
      let after = await lag();
      while (after.some((p) => p.records !== 0 || p.seconds !== 0)) {
        if (Date.now() > deadline) assert.fail(`lag never fell to 0: ${JSON.stringify(after)}`);
        await sleep(50);
        after = await lag();
      }
    });

    test('close is idempotent and publish after close fails with a clear error', async (t) => {
      const transport = await open(t);
      const name = await topic(transport);
      const subscription = await transport.subscribe(name, () => Promise.resolve(), { group: fresh('g') });
      await subscription.close();
      await subscription.close();
      await transport.close();
      await transport.close();
      await assert.rejects(transport.publish(name, [message(1)]), (error: { code?: string; message: string }) => {
        assert.equal(error.code, ErrorCodes.TRANSPORT_CLOSED);
        assert.match(error.message, /closed/);
        return true;
      });
      await assert.rejects(transport.subscribe(name, () => Promise.resolve(), { group: fresh('g') }), { code: ErrorCodes.TRANSPORT_CLOSED });
    });
  });
}
