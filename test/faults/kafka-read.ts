/** Reading the cluster for the checker and for quiescence: end offsets, a group's lag, every record of a topic. */
import { Admin, Consumer } from '@platformatic/kafka';
import { randomUUID } from 'node:crypto';
import { kafkaDeserializers } from '../../src/transport/kafka/options.ts';

export interface TopicRecord {
  partition: number;
  offset: bigint;
  key: string | undefined;
  value: Buffer;
  headers: Map<string, string>;
}

async function withAdmin<T>(brokers: readonly string[], use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ clientId: 'kitsune-faults-reader', bootstrapBrokers: [...brokers], timeout: 10_000, retries: 3 });
  try {
    return await use(admin);
  } finally {
    await admin.close();
  }
}

/** Each partition's end offset (one past its last record). */
export async function endOffsets(brokers: readonly string[], topic: string): Promise<Map<number, bigint>> {
  return withAdmin(brokers, async (admin) => {
    const count = (await admin.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic)?.partitionsCount ?? 0;
    const partitions = Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }));
    const [listed] = await admin.listOffsets({ topics: [{ name: topic, partitions }] });
    return new Map((listed?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
  });
}

/** Records of `topic` that `group` has not committed past, summed over partitions. */
export async function groupLag(brokers: readonly string[], group: string, topic: string): Promise<bigint> {
  const ends = await endOffsets(brokers, topic);
  const committed = await withAdmin(brokers, async (admin) => {
    const [found] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: [...ends.keys()] }] }] });
    return new Map((found?.topics.find((t) => t.name === topic)?.partitions ?? []).map((p) => [p.partitionIndex, p.committedOffset]));
  });
  let lag = 0n;
  for (const [partition, end] of ends) {
    const at = committed.get(partition) ?? -1n;
    lag += end - (at < 0n ? 0n : at);
  }
  return lag;
}

/** Every record of `topic`, from the start of each partition up to its end offset now. */
export async function readTopic(brokers: readonly string[], topic: string): Promise<TopicRecord[]> {
  const ends = await endOffsets(brokers, topic);
  const remaining = new Set([...ends].filter(([, end]) => end > 0n).map(([partition]) => partition));
  const records: TopicRecord[] = [];
  if (remaining.size === 0) return records;
  const consumer = new Consumer({
    clientId: 'kitsune-faults-reader',
    groupId: `kitsune-faults-reader-${randomUUID()}`,
    bootstrapBrokers: [...brokers],
    deserializers: kafkaDeserializers,
    maxBytesPerPartition: 4 * 1_048_576,
  });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    for await (const message of stream) {
      const end = ends.get(message.partition) ?? 0n;
      if (message.offset < end) {
        records.push({ partition: message.partition, offset: message.offset, key: message.key, value: message.value, headers: new Map(message.headers) });
      }
      if (message.offset >= end - 1n) remaining.delete(message.partition);
      if (remaining.size === 0) break;
    }
    await stream.close();
  } finally {
    await new Promise<void>((resolveClose) => consumer.close(true, () => resolveClose()));
  }
  return records;
}
