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
        // Lost a race with another process creating it (roles started together): fine. The
        // broker says so by code; a listing may not show the topic yet while it is being created.
        if (!reports(error, 'TOPIC_ALREADY_EXISTS')) throw error;
      }
    }
  } finally {
    await admin.close();
  }
}

/** True when the error, or one it aggregates (the client's per-topic response errors), carries the broker error `apiId`. */
function reports(error: unknown, apiId: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { apiId: id, errors } = error as { apiId?: unknown; errors?: unknown };
  return id === apiId || (Array.isArray(errors) && errors.some((inner) => reports(inner, apiId)));
}
