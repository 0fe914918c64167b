/**
 * Where a member starts a partition it was granted: the group's committed offset, or the log's
 * first offset when the group has committed nothing there (a worker group that joins after
 * events were published must still see them). A commit below the log's start points at records
 * retention already deleted; the member starts at the first one that is left.
 */
import { ListOffsetTimestamps } from '@platformatic/kafka';
import type { GroupConsumer } from './group-consumer.ts';

export async function startOffsets(consumer: GroupConsumer, topic: string, partitions: number[]): Promise<Map<number, bigint>> {
  const [committed, earliest] = await Promise.all([
    consumer.listCommittedOffsets({ topics: [{ topic, partitions }] }),
    consumer.listOffsets({ topics: [topic], partitions: { [topic]: partitions }, timestamp: ListOffsetTimestamps.EARLIEST }),
  ]);
  const starts = new Map<number, bigint>();
  for (const partition of partitions) {
    const first = earliest.get(topic)?.[partition];
    if (first === undefined) throw new Error(`${topic}/${partition}: the broker did not say where the partition's log starts`);
    const commit = committed.get(topic)?.[partition] ?? -1n;
    starts.set(partition, commit > first ? commit : first);
  }
  return starts;
}
