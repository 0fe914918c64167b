import { Admin } from '@platformatic/kafka';
import type { TopicSpec } from '../types.ts';
import type { KafkaClientOptions } from './options.ts';

/**
 * Creates the topics that do not exist yet. Existing topics keep their partition count: growing
 * one would move keys to other partitions and break per-entity order, so that stays a deliberate
 * operator action. Safe against another process creating the same topic concurrently.
 */
export async function ensureKafkaTopics(options: KafkaClientOptions, topics: readonly TopicSpec[]): Promise<void> {
  const admin = new Admin({ clientId: `${options.clientId}-admin`, bootstrapBrokers: options.brokers, timeout: options.requestTimeoutMs });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic.name));
    for (const topic of missing) {
      try {
        await admin.createTopics({ topics: [topic.name], partitions: topic.partitions, replicas: -1 });
      } catch (error) {
        // Lost a race with another process creating it: fine. Anything else is real.
        if (!(await admin.listTopics()).includes(topic.name)) throw error;
      }
    }
  } finally {
    await admin.close();
  }
}
