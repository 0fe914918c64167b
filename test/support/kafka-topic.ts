/**
 * Reads a whole Kafka topic as it is now: its end offsets are listed first, and the read stops
 * once every partition reached them. No "quiet for N ms" guess: a slow machine only makes it
 * take longer, never makes it stop early.
 */
import { randomUUID } from 'node:crypto';
import { Consumer } from '@platformatic/kafka';
import { kafkaBrokers } from './services.ts';

export interface TopicRecord {
  key: Buffer | undefined;
  value: Buffer;
  headers: Map<string, string>;
  partition: number;
  offset: bigint;
}

/** Every record on `topic` up to its end offsets when called; fails after `timeoutMs`. */
export async function readWholeTopic(topic: string, timeoutMs = 120_000): Promise<TopicRecord[]> {
  const consumer = new Consumer({ clientId: 'test-topic-reader', groupId: `reader-${randomUUID()}`, bootstrapBrokers: kafkaBrokers(), autocommit: false, maxWaitTime: 200 });
  try {
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
    const records: TopicRecord[] = [];
    const next = ends.map(() => 0n);
    const done = (): boolean => ends.every((end, partition) => next[partition]! >= end);
    if (done()) return records;
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${records.length} records of ${topic} in ${timeoutMs} ms; its end offsets are ${ends.join(', ')}`)), timeoutMs);
        stream.on('error', reject);
        stream.on('data', (message) => {
          if (message.offset >= (ends[message.partition] ?? 0n)) return; // written after the call
          records.push({
            key: message.key ?? undefined,
            value: Buffer.from(message.value),
            headers: new Map([...message.headers].map(([k, v]) => [k.toString(), v.toString()])),
            partition: message.partition,
            offset: message.offset,
          });
          next[message.partition] = message.offset + 1n;
          if (done()) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } finally {
      await stream.close();
    }
    return records;
  } finally {
    await consumer.close();
  }
}
