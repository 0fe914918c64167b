import { Admin } from '@platformatic/kafka';
import type { TopicSpec } from '../types.ts';
import type { KafkaClientOptions } from './options.ts';
import { answering } from './unanswering-brokers.ts';

/**
 * `min.insync.replicas` for a topic of `replicas`: from 3 on, 2, so acks=all still answers with one
 * broker down and an acknowledged record is on two; below 3 there is no replica to spare.
 */
export const minInsyncFor = (replicas: number): number => (replicas >= 3 ? 2 : 1);

/**
 * Creates the topics that do not exist yet, with `replicationFactor` replicas and the spec's
 * `max.message.bytes`. Existing topics keep their partition count, replication and limits: growing
 * one would move keys to other partitions and break per-entity order, so that stays a deliberate
 * operator action. Safe against another
 * process creating the same topic concurrently.
 */
export async function ensureKafkaTopics(options: KafkaClientOptions, topics: readonly TopicSpec[]): Promise<void> {
  const admin = answering(new Admin({ clientId: `${options.clientId}-admin`, bootstrapBrokers: options.brokers, timeout: options.requestTimeoutMs }));
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic.name));
    if (missing.length === 0) return;
    // DESIGN.md §8: the cluster's replication, 3 where it has 3 brokers.
    const replicas = options.replicationFactor ?? Math.max(1, Math.min(3, (await admin.metadata({ topics: [] })).brokers.size));
    const minInsync = { name: 'min.insync.replicas', value: String(minInsyncFor(replicas)) };
    for (const topic of missing) {
      const configs = topic.maxMessageBytes === undefined ? [minInsync] : [minInsync, { name: 'max.message.bytes', value: String(topic.maxMessageBytes) }];
      try {
        await admin.createTopics({ topics: [topic.name], partitions: topic.partitions, replicas, configs });
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
