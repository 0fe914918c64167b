/**
 * Reading a dead-letter topic and moving the replay group's bookmark, on either engine. The
 * transport seam only consumes (it has no end offsets and commits only what a handler
 * acknowledged); `kitsune dlq` needs to read a bounded range and set a group's offset, so each
 * engine gets this small interface of its own. See docs/decisions/0007-dlq-replay.md.
 */
import type { ReceivedMessage } from '../transport/types.ts';

export interface DlqPartition {
  partition: number;
  /** Oldest retained offset. */
  start: bigint;
  /** Offset the next record will get (Kafka's high watermark). */
  end: bigint;
  /** The group's committed offset: everything before it is handled. Undefined: never committed. */
  committed: bigint | undefined;
}

export interface DlqSnapshot {
  topic: string;
  group: string;
  /** False when the topic does not exist yet (nothing ever failed on this instance). */
  exists: boolean;
  partitions: DlqPartition[];
}

export interface DeadLetterLog {
  /** The DLQ's partitions, their bounds, and `group`'s committed offsets. */
  describe(topic: string, group: string): Promise<DlqSnapshot>;
  /** The records of one partition with `from <= offset < to`, in offset order. */
  read(topic: string, partition: number, from: bigint, to: bigint): Promise<ReceivedMessage[]>;
  /**
   * Sets `group`'s committed offsets. Callers only move them forward, under the replay lock
   * (dlq/lock.ts); Kafka refuses while the group has live members, which is the point: no one
   * but `kitsune dlq` should consume the replay group.
   */
  commit(topic: string, group: string, offsets: ReadonlyMap<number, bigint>): Promise<void>;
  close(): Promise<void>;
}

/** Where reading a partition begins: the bookmark, or the oldest retained record. */
export function pendingFrom(partition: DlqPartition): bigint {
  const from = partition.committed ?? partition.start;
  return from < partition.start ? partition.start : from;
}
