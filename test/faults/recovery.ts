/**
 * Recovery after a fault, measured rather than assumed: processing has resumed once every
 * partition has committed a record that was produced after the fault took hold (its end offset
 * then). While no new record is coming (the load is over, or waits at the gate for the fault to
 * end), a partition counts once it has committed everything. Read after the fault took hold, so the victim cannot have processed those records.
 */
import { Admin } from '@platformatic/kafka';
import { setTimeout as sleep } from 'node:timers/promises';
import { endOffsets } from './kafka-read.ts';

async function committed(brokers: readonly string[], group: string, topic: string, partitions: number[]): Promise<Map<number, bigint>> {
  const admin = new Admin({ clientId: 'kitsune-faults-recovery', bootstrapBrokers: [...brokers], timeout: 5_000, retries: 2 });
  try {
    const [found] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: partitions }] }] });
    return new Map((found?.topics.find((t) => t.name === topic)?.partitions ?? []).map((p) => [p.partitionIndex, p.committedOffset]));
  } finally {
    await admin.close();
  }
}

export interface ResumeWatch {
  brokers: readonly string[];
  group: string;
  topic: string;
  /** When the fault took hold (ms since the epoch); the figure is measured from it. */
  since: number;
  deadlineMs: number;
  /**
   * True while no new record is coming: the load has sent its last operation, or every operation
   * it may send before this fault ends has been answered.
   */
  noNewRecords: () => boolean;
  report?: (line: string) => void;
}

/** ms from `since` until every partition resumed; undefined if that did not happen by the deadline. */
export async function resumed(watch: ResumeWatch): Promise<number | undefined> {
  const { brokers, group, topic, since } = watch;
  const report = watch.report ?? (() => undefined);
  // The end offsets once the fault held; retried while the cluster itself is the fault.
  let ends: Map<number, bigint> | undefined;
  while (ends === undefined) {
    ends = await endOffsets(brokers, topic).catch(() => undefined);
    if (Date.now() - since > watch.deadlineMs) return undefined;
    if (ends === undefined) await sleep(200);
  }
  const pending = new Map(ends);
  let reported = Date.now();
  while (pending.size > 0) {
    if (Date.now() - since > watch.deadlineMs) {
      report(`${topic}: partitions ${[...pending.keys()].join(', ')} never committed past ${[...pending.values()].join(', ')}`);
      return undefined;
    }
    const idle = watch.noNewRecords();
    const [now, endsNow] = await Promise.all([
      committed(brokers, group, topic, [...pending.keys()]).catch(() => new Map<number, bigint>()),
      idle ? endOffsets(brokers, topic).catch(() => new Map<number, bigint>()) : Promise.resolve(new Map<number, bigint>()),
    ]);
    for (const [partition, offset] of now) {
      const from = pending.get(partition)!;
      const caughtUp = idle && endsNow.has(partition) && offset >= endsNow.get(partition)!;
      if (offset > from || caughtUp) pending.delete(partition);
    }
    if (Date.now() - reported > 10_000) {
      reported = Date.now();
      report(`${topic}: still waiting on partitions ${[...pending.keys()].join(', ')} after ${Date.now() - since} ms`);
    }
    if (pending.size > 0) await sleep(200);
  }
  return Date.now() - since;
}
