import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { kafkaDefaults } from '../../../src/transport/kafka/options.ts';
import { ensureKafkaTopics } from '../../../src/transport/kafka/topics.ts';
import { kafkaBrokers, kafkaSkip } from '../../support/services.ts';

test('roles that start together all create the same topics without failing', { skip: kafkaSkip }, async (t) => {
  const brokers = kafkaBrokers();
  // The race is narrow (the loser's listing can miss a topic still being created), so several rounds.
  const rounds = Array.from({ length: 16 }, () => [`race-${randomUUID()}`, `race-${randomUUID()}.dlq`]);
  const names = rounds.flat();
  const admin = new Admin({ clientId: 'topics-test', bootstrapBrokers: brokers });
  t.after(async () => {
    await admin.deleteTopics({ topics: names }).catch(() => undefined);
    await admin.close();
  });
  const options = { ...kafkaDefaults, brokers };
  const outcomes: PromiseSettledResult<void>[] = [];
  for (const round of rounds) {
    const specs = round.map((name) => ({ name, partitions: 3 }));
    outcomes.push(...(await Promise.allSettled(Array.from({ length: 4 }, () => ensureKafkaTopics(options, specs)))));
  }
  assert.deepEqual(
    outcomes.filter((o) => o.status === 'rejected').map((o) => String((o).reason)),
    [],
  );
  const metadata = await admin.metadata({ topics: names });
  for (const name of names) assert.equal(metadata.topics.get(name)?.partitionsCount, 3, name);
});
