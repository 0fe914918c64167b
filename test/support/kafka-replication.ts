/** How a topic is replicated, as the cluster reports it: replicas per partition and min.insync.replicas. */
import { Admin } from '@platformatic/kafka';

export interface TopicReplication {
  /** Replica count of each partition, in partition order. */
  replicas: number[];
  minInsyncReplicas: number;
}

export async function topicReplication(brokers: readonly string[], topic: string): Promise<TopicReplication> {
  const admin = new Admin({ clientId: 'kitsune-test-replication', bootstrapBrokers: [...brokers] });
  try {
    const metadata = await admin.metadata({ topics: [topic] });
    const partitions = metadata.topics.get(topic)?.partitions ?? [];
    const [description] = await admin.describeConfigs({ resources: [{ resourceType: 2, resourceName: topic, configurationKeys: ['min.insync.replicas'] }] });
    const value = description?.configs.find((config) => config.name === 'min.insync.replicas')?.value;
    return { replicas: partitions.map((partition) => partition.replicas.length), minInsyncReplicas: Number(value) };
  } finally {
    await admin.close();
  }
}
