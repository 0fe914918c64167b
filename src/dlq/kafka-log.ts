/**
 * The DLQ on Kafka. Reading uses plain Fetch requests from a Consumer that never joins a group
 * (joining would make `kitsune dlq` a member of the replay group and trigger rebalances); the
 * bookmark is the replay group's committed offset, read and set with the admin API
 * (OffsetFetch/OffsetCommit as a non-member, which Kafka allows only while the group has no live
 * members). The group's lag is then the number of unhandled dead letters, visible to any Kafka
 * tool: `kafka-consumer-groups.sh --describe --group <KAFKA_GROUP_ID>.dlq-replay`.
 */
import { Admin, Consumer } from '@platformatic/kafka';
import { ErrorCodes, KitsuneError } from '../errors.ts';
import { reservedHeaders, type ReceivedMessage } from '../transport/types.ts';
import type { DeadLetterLog, DlqSnapshot } from './log.ts';
import { answering } from '../transport/kafka/unanswering-brokers.ts';

export interface KafkaDeadLetterLogOptions {
  brokers: string[];
  clientId: string;
  /** (Default: 10_000 ms) */
  requestTimeoutMs?: number;
}

const earliest = -2n;
const latest = -1n;
/** A control batch (transaction marker) holds no user record. */
const controlBatch = 0b10_0000;

export function createKafkaDeadLetterLog(options: KafkaDeadLetterLogOptions): DeadLetterLog {
  const timeout = options.requestTimeoutMs ?? 10_000;
  const admin = answering(new Admin({ clientId: `${options.clientId}-dlq-admin`, bootstrapBrokers: options.brokers, timeout, retries: 3 }));
  // groupId is required by the constructor; this consumer only sends Fetch, which needs no group.
  const consumer = answering(new Consumer({ clientId: `${options.clientId}-dlq-reader`, groupId: `${options.clientId}-dlq-reader`, bootstrapBrokers: options.brokers, timeout, retries: 3 }));

  const offsetsAt = async (topic: string, partitions: number[], timestamp: bigint): Promise<Map<number, bigint>> => {
    const listed = await admin.listOffsets({ topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }] });
    return new Map((listed.find((t) => t.name === topic)?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
  };

  return {
    async describe(topic, group): Promise<DlqSnapshot> {
      if (!(await admin.listTopics()).includes(topic)) return { topic, group, exists: false, partitions: [] };
      const metadata = await admin.metadata({ topics: [topic] });
      const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
      const partitions = Array.from({ length: count }, (_, p) => p);
      const [starts, ends, groups] = await Promise.all([
        offsetsAt(topic, partitions, earliest),
        offsetsAt(topic, partitions, latest),
        admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: partitions }] }] }),
      ]);
      const committed = new Map<number, bigint>();
      for (const found of groups.find((g) => g.groupId === group)?.topics.find((t) => t.name === topic)?.partitions ?? []) {
        // -1: the group has no offset for this partition.
        if (found.committedOffset >= 0n) committed.set(found.partitionIndex, found.committedOffset);
      }
      return {
        topic,
        group,
        exists: true,
        partitions: partitions.map((partition) => ({
          partition,
          start: starts.get(partition) ?? 0n,
          end: ends.get(partition) ?? 0n,
          committed: committed.get(partition),
        })),
      };
    },

    async read(topic, partition, from, to) {
      const messages: ReceivedMessage[] = [];
      let next = from;
      while (next < to) {
        const metadata = await consumer.metadata({ topics: [topic], forceUpdate: true });
        const topicMetadata = metadata.topics.get(topic);
        const leader = topicMetadata?.partitions[partition]?.leader;
        if (!topicMetadata || leader === undefined) throw new Error(`Kafka has no leader for ${topic} partition ${partition}`);
        const response = await consumer.fetch({
          node: leader,
          maxWaitTime: 100,
          minBytes: 1,
          maxBytes: 8 * 1_048_576,
          topics: [{ topicId: topicMetadata.id, partitions: [{ partition, fetchOffset: next, partitionMaxBytes: 4 * 1_048_576, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
        });
        const fetched = response.responses[0]?.partitions.find((p) => p.partitionIndex === partition);
        const batches = fetched?.records ?? [];
        if (batches.length === 0) break; // nothing more below the high watermark (compacted or aborted)
        const asked = next;
        for (const batch of batches) {
          const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
          if (last + 1n > next) next = last + 1n;
          if (batch.attributes & controlBatch) continue;
          for (const record of batch.records) {
            const offset = batch.firstOffset + BigInt(record.offsetDelta);
            if (offset < from || offset >= to) continue;
            messages.push(toReceived(topic, partition, offset, batch.firstTimestamp + record.timestampDelta, record));
          }
        }
        if (next === asked) break; // the broker answered with nothing past what we asked for: stop, do not spin
      }
      // A fetch may return a batch that starts before the offset asked for; duplicates are dropped.
      const seen = new Set<bigint>();
      return messages.filter((m) => !seen.has(m.offset) && seen.add(m.offset)).sort((a, b) => (a.offset < b.offset ? -1 : 1));
    },

    async commit(topic, group, offsets) {
      if (offsets.size === 0) return;
      try {
        await admin.alterConsumerGroupOffsets({
          groupId: group,
          topics: [{ name: topic, partitionOffsets: [...offsets].map(([partition, offset]) => ({ partition, offset })) }],
        });
      } catch (error) {
        const members = await admin
          .describeGroups({ groups: [group] })
          .then((groups) => groups.get(group)?.members.size ?? 0, () => 0);
        const next = members > 0 ? `The group has ${members} live member(s): stop whatever consumes ${group} (only kitsune dlq may use it), then run this again` : 'Run this again';
        throw new KitsuneError(ErrorCodes.UNAVAILABLE, `Kafka refused to move the bookmark of ${group} on ${topic}: ${(error as Error).message}. ${next}`, {
          retryable: members === 0,
          cause: error,
        });
      }
    },

    async close() {
      await Promise.allSettled([consumer.close(), admin.close()]);
    },
  };
}

interface RawRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[Buffer | null, Buffer | null]>;
}

function toReceived(topic: string, partition: number, offset: bigint, timestamp: bigint, record: RawRecord): ReceivedMessage {
  const headers = Object.create(null) as Record<string, string>;
  for (const [name, value] of record.headers) if (name) headers[name.toString('utf8')] = value?.toString('utf8') ?? '';
  return {
    id: headers[reservedHeaders.id] ?? `${topic}/${partition}/${offset}`,
    key: record.key ? record.key.toString('utf8') : undefined,
    value: record.value ?? Buffer.alloc(0),
    headers,
    topic,
    partition,
    offset,
    timestamp: Number(timestamp),
    attempt: 1,
  };
}
