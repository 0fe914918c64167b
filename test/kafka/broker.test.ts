import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { kafkaBrokers, kafkaSkip } from '../support/services.ts';

describe('Kafka test broker', { skip: kafkaSkip }, () => {
  const topic = `broker-test-${randomUUID()}`;
  const partitions = 3;
  let admin: Admin;

  before(async () => {
    admin = new Admin({ clientId: 'kitsune-test-admin', bootstrapBrokers: kafkaBrokers() });
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
  });
  after(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close();
  });

  test('creates a topic with several partitions', async () => {
    const metadata = await admin.metadata({ topics: [topic] });
    assert.equal(metadata.topics.get(topic)?.partitionsCount, partitions);
  });

  test('round-trips keyed records with headers through a consumer group', async (t) => {
    const producer = new Producer({
      clientId: 'kitsune-test-producer',
      bootstrapBrokers: kafkaBrokers(),
      serializers: stringSerializers,
      idempotent: true,
      acks: -1,
    });
    t.after(() => producer.close());
    const sent = Array.from({ length: 60 }, (_, i) => ({
      topic,
      key: `entity-${i % 12}`,
      value: JSON.stringify({ i }),
      headers: new Map([['event-id', `event-${i}`]]),
    }));
    await producer.send({ messages: sent });

    const consumer = new Consumer({
      clientId: 'kitsune-test-consumer',
      groupId: `broker-test-${randomUUID()}`,
      bootstrapBrokers: kafkaBrokers(),
      deserializers: stringDeserializers,
    });
    t.after(() => consumer.close(true));
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    const received: Array<{ key: string; value: string; partition: number; eventId: string | undefined }> = [];
    for await (const message of stream) {
      received.push({
        key: message.key,
        value: message.value,
        partition: message.partition,
        eventId: message.headers.get('event-id'),
      });
      if (received.length === sent.length) break;
    }

    assert.deepEqual(
      received.map((r) => r.value).sort(),
      sent.map((m) => m.value).sort(),
    );
    for (const record of received) {
      assert.equal(record.eventId, `event-${(JSON.parse(record.value) as { i: number }).i}`);
    }
    const partitionsByKey = new Map<string, Set<number>>();
    for (const r of received) partitionsByKey.set(r.key, (partitionsByKey.get(r.key) ?? new Set()).add(r.partition));
    for (const [key, used] of partitionsByKey) assert.equal(used.size, 1, `key ${key} landed on ${[...used].join(',')}`);
    assert.ok(new Set(received.map((r) => r.partition)).size > 1, 'twelve keys should spread over several partitions');
  });
});
