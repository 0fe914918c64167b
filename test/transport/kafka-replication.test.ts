import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { kafkaDefaults } from '../../src/transport/kafka/options.ts';
import { ensureKafkaTopics, minInsyncFor } from '../../src/transport/kafka/topics.ts';
import { topicReplication } from '../support/kafka-replication.ts';
import { kafkaBrokers, kafkaSkip } from '../support/services.ts';

test('KITSUNE_KAFKA_REPLICATION_FACTOR is unset by default, and must be a positive integer', () => {
  assert.equal(loadConfig({}).kafkaReplicationFactor, undefined);
  assert.equal(loadConfig({ KITSUNE_KAFKA_REPLICATION_FACTOR: '3' }).kafkaReplicationFactor, 3);
  assert.throws(() => loadConfig({ KITSUNE_KAFKA_REPLICATION_FACTOR: '0' }), /KITSUNE_KAFKA_REPLICATION_FACTOR must be an integer from 1 to 32 \(got '0'\)/);
  assert.throws(() => loadConfig({ KITSUNE_KAFKA_REPLICATION_FACTOR: 'three' }), /KITSUNE_KAFKA_REPLICATION_FACTOR/);
});

test('min.insync.replicas is 2 from three replicas on, so one broker may be down; 1 below that', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(minInsyncFor), [1, 1, 2, 2, 2]);
});

describe('topics Kitsune creates on the test cluster', { skip: kafkaSkip }, () => {
  test('take the cluster size, at most 3, as their replication when no factor is set', async () => {
    const brokers = kafkaBrokers();
    const topic = `replication-${randomUUID()}`;
    await ensureKafkaTopics({ ...kafkaDefaults, brokers }, [{ name: topic, partitions: 2 }]);
    const expected = Math.min(3, brokers.length);
    assert.deepEqual(await topicReplication(brokers, topic), { replicas: [expected, expected], minInsyncReplicas: minInsyncFor(expected) });
  });

  test('take the configured factor when one is set', async () => {
    const brokers = kafkaBrokers();
    const topic = `replication-${randomUUID()}`;
    await ensureKafkaTopics({ ...kafkaDefaults, brokers, replicationFactor: 1 }, [{ name: topic, partitions: 1 }]);
    assert.deepEqual(await topicReplication(brokers, topic), { replicas: [1], minInsyncReplicas: 1 });
  });

  test('a factor larger than the cluster is refused by the broker rather than quietly lowered', async () => {
    const brokers = kafkaBrokers();
    await assert.rejects(ensureKafkaTopics({ ...kafkaDefaults, brokers, replicationFactor: brokers.length + 1 }, [{ name: `replication-${randomUUID()}`, partitions: 1 }]));
  });
});
