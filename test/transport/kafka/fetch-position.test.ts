/**
 * The client's fetch position running ahead of what a member delivered (a fetch answered after a
 * rebalance, a stale buffer, a position kept from an earlier ownership) must not skip records.
 * The race is forced, not hoped for: the member's consumer is wrapped as it is created (the
 * client announces every instance on its diagnostics channel) so that, once 100 records were
 * fetched, one fetch asks from 50 records further on, as a stale position would. Small fetches
 * (one producer batch each) make sure that fetch happens while records are left.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import type { Consumer } from '@platformatic/kafka';
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import type { ReceivedMessage } from '../../../src/transport/types.ts';
import { kafkaBrokers, kafkaSkip } from '../../support/services.ts';

const instances = 'plt:kafka:instances';
type AnyConsumer = Consumer<unknown, unknown, unknown, unknown>;
type FetchOptions = Parameters<AnyConsumer['fetch']>[0];

async function waitFor(condition: () => boolean | Promise<boolean>, what: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(20);
  }
}

/**
 * Makes the first fetch from `from` or later, of every consumer of `group` created from now on,
 * ask from `skip` records further on. Only the group's members: the transport's lag reader is a
 * consumer too, and its one-batch fetch at the group's commit, moved past the log's end, would
 * fail with OFFSET_OUT_OF_RANGE instead of measuring lag.
 */
function skewFetch(group: string, from: bigint, skip: bigint): { skewed: () => number; stop: () => void } {
  let skewed = 0;
  const onInstance = (message: unknown): void => {
    const { type, instance } = message as { type: string; instance: AnyConsumer };
    if (type !== 'consumer' || instance.groupId !== group) return;
    const fetch = instance.fetch.bind(instance) as (options: FetchOptions, callback: unknown) => unknown;
    let armed = true;
    // An own property shadows the prototype's method for this instance only.
    Object.defineProperty(instance, 'fetch', {
      value: (options: FetchOptions, callback: unknown) => {
        const topics = options.topics.map((topic) => ({
          ...topic,
          partitions: topic.partitions.map((partition) => {
            if (!armed || partition.fetchOffset < from) return partition;
            armed = false;
            skewed += 1;
            return { ...partition, fetchOffset: partition.fetchOffset + skip };
          }),
        }));
        return fetch({ ...options, topics }, callback);
      },
    });
  };
  subscribe(instances, onInstance);
  return { skewed: () => skewed, stop: () => unsubscribe(instances, onInstance) };
}

describe('a Kafka member whose client fetch position runs ahead of delivery', { skip: kafkaSkip }, () => {
  test('gets every record, in order and once, and commits to the end', async (t) => {
    const transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'kitsune-fetch-position', fetchMaxBytesPerPartition: 1 });
    t.after(() => transport.close());
    const topic = `fetch-position-${randomUUID()}`;
    const group = `fetch-position-${randomUUID()}`;
    await transport.ensureTopics([{ name: topic, partitions: 1 }]);
    const count = 300;
    // One producer batch of 10 per publish: a fetch returns one batch.
    for (let first = 0; first < count; first += 10) {
      await transport.publish(
        topic,
        Array.from({ length: 10 }, (_, i) => ({ id: `m-${first + i}`, key: 'one-key', value: Buffer.from(String(first + i)), headers: { seq: String(first + i) } })),
      );
    }

    const skew = skewFetch(group, 100n, 50n);
    t.after(() => skew.stop());
    const received: ReceivedMessage[] = [];
    await transport.subscribe(topic, (message) => Promise.resolve(void received.push(message)), { group, maxBatchSize: 50 });

    await waitFor(() => received.length >= count, () => `${received.length}/${count} records`);
    assert.equal(skew.skewed(), 1, 'one fetch was made to start 50 records ahead');
    assert.deepEqual(
      received.map((message) => Number(message.headers.seq)),
      Array.from({ length: count }, (_, i) => i),
      'every record, in order, once',
    );
    const lagOf = async (): Promise<number | undefined> => (await transport.consumerLag([{ group, topic }]))[0]?.records;
    await waitFor(async () => (await lagOf()) === 0, () => 'the group to commit every record');
  });
});
