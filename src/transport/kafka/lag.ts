/**
 * Consumer lag on Kafka, read as an outside observer (as kafka-consumer-groups.sh does): the
 * groups' committed offsets (OffsetFetch), the partitions' end and start offsets (ListOffsets),
 * and, for each partition that is behind, the timestamp of the first uncommitted record (a Fetch
 * of one record batch at the committed offset from the partition's leader). Nothing here joins a
 * group, so reading lag never rebalances the consumers it measures.
 *
 * Cost per read: one OffsetFetch, two ListOffsets per leader, and one Fetch per partition that is
 * behind, each returning one record batch.
 */
import { Admin, Consumer, type ClusterMetadata } from '@platformatic/kafka';
import type { LagQuery, PartitionLag } from '../types.ts';
import type { KafkaClientOptions } from './options.ts';
import { answering } from './unanswering-brokers.ts';

const earliest = -2n;

interface Position {
  group: string;
  topic: string;
  partition: number;
  from: bigint;
  end: bigint;
}

export class KafkaLagReader {
  readonly #client: KafkaClientOptions;
  #admin: Admin | undefined;
  #consumer: Consumer | undefined;

  constructor(client: KafkaClientOptions) {
    this.#client = client;
  }

  async read(queries: readonly LagQuery[]): Promise<PartitionLag[]> {
    if (queries.length === 0) return [];
    const { clientId, brokers, requestTimeoutMs } = this.#client;
    const common = { bootstrapBrokers: brokers, timeout: requestTimeoutMs, retries: 1 };
    this.#admin ??= answering(new Admin({ clientId: `${clientId}-lag`, ...common }));
    // Never joins its group: it is only a handle for metadata, ListOffsets and Fetch.
    this.#consumer ??= answering(new Consumer({ clientId: `${clientId}-lag`, groupId: `${clientId}-lag-reader`, ...common }));
    const consumer = this.#consumer;

    const known = new Set(await this.#admin.listTopics());
    const wanted = queries.filter((q) => known.has(q.topic));
    const topics = [...new Set(wanted.map((q) => q.topic))];
    if (topics.length === 0) return [];
    const metadata = await consumer.metadata({ topics });
    const partitionsOf = (topic: string): number[] => Array.from({ length: metadata.topics.get(topic)?.partitionsCount ?? 0 }, (_, i) => i);
    const groups = [...new Set(wanted.map((q) => q.group))];
    const [ends, starts, committed] = await Promise.all([
      consumer.listOffsets({ topics }),
      consumer.listOffsets({ topics, timestamp: earliest }),
      this.#admin.listConsumerGroupOffsets({
        groups: groups.map((groupId) => ({
          groupId,
          topics: wanted.filter((q) => q.group === groupId).map((q) => ({ name: q.topic, partitionIndexes: partitionsOf(q.topic) })),
        })),
      }),
    ]);
    const committedOf = new Map<string, bigint>();
    for (const group of committed) {
      for (const topic of group.topics) {
        for (const p of topic.partitions) committedOf.set(`${group.groupId}\u0000${topic.name}\u0000${p.partitionIndex}`, p.committedOffset);
      }
    }
    const positions: Position[] = wanted.flatMap(({ group, topic }) =>
      (ends.get(topic) ?? []).map((end, partition) => {
        const start = starts.get(topic)?.[partition] ?? 0n;
        const mine = committedOf.get(`${group}\u0000${topic}\u0000${partition}`) ?? -1n;
        // No commit (-1): a new group starts at the oldest record. A commit below the oldest
        // retained record resumes there too.
        const from = mine < start ? start : mine;
        return { group, topic, partition, from, end };
      }),
    );
    const timestamps = await this.#firstTimestamps(positions.filter((p) => p.from < p.end), metadata);
    const now = Date.now();
    return positions.map(({ group, topic, partition, from, end }) => {
      const behind = from < end ? end - from : 0n;
      const stamp = timestamps.get(`${topic}\u0000${partition}\u0000${from}`);
      return { group, topic, partition, records: Number(behind), seconds: behind > 0n && stamp !== undefined ? Math.max(0, now - stamp) / 1000 : 0 };
    });
  }

  /** The timestamp of the record at (or first after) each position's offset, by `topic\0partition\0offset`. */
  async #firstTimestamps(behind: readonly Position[], metadata: ClusterMetadata): Promise<Map<string, number>> {
    const stamps = new Map<string, number>();
    const distinct = new Map(behind.map((p) => [`${p.topic}\u0000${p.partition}\u0000${p.from}`, p]));
    await Promise.all(
      [...distinct].map(async ([at, { topic, partition, from }]) => {
        const meta = metadata.topics.get(topic);
        const node = meta?.partitions[partition]?.leader;
        if (!meta || node === undefined) return;
        // One partition per Fetch: the broker returns a record batch larger than the limits only
        // for the first partition of a request (KIP-74), so with one partition and a 1-byte limit
        // it answers with exactly the batch holding `from`. The client opens a fetch session per
        // call; the broker evicts such small idle sessions first.
        const response = await this.#consumer!.fetch({
          node,
          topics: [{ topicId: meta.id, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: from, lastFetchedEpoch: -1, partitionMaxBytes: 1 }] }],
          maxWaitTime: 0,
          minBytes: 1,
          maxBytes: 1,
        });
        const stamp = firstTimestampFrom(response.responses[0]?.partitions[0]?.records ?? [], from);
        if (stamp !== undefined) stamps.set(at, stamp);
      }),
    );
    return stamps;
  }

  async close(): Promise<void> {
    await Promise.all([this.#admin?.close(), this.#consumer?.close()]);
    this.#admin = undefined;
    this.#consumer = undefined;
  }
}

/** The timestamp (ms) of the first record at or after `offset` in the fetched batches. */
function firstTimestampFrom(batches: ReadonlyArray<{ firstOffset: bigint; firstTimestamp: bigint; records: ReadonlyArray<{ offsetDelta: number; timestampDelta: bigint }> }>, offset: bigint): number | undefined {
  for (const batch of batches) {
    for (const record of batch.records) {
      if (batch.firstOffset + BigInt(record.offsetDelta) >= offset) return Number(batch.firstTimestamp + record.timestampDelta);
    }
  }
  return undefined;
}
