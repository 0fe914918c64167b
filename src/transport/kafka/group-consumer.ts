/**
 * Making and closing the client's group consumer for one subscription.
 */
import { Consumer, type CallbackWithPromise } from '@platformatic/kafka';
import { toError } from '../../errors.ts';
import type { SubscribeOptions } from '../types.ts';
import { guardMissingBrokers } from './missing-broker.ts';
import { kafkaDeserializers, type KafkaClientOptions } from './options.ts';
import { preferAnsweringBrokers } from './unanswering-brokers.ts';

export type GroupConsumer = Consumer<string | undefined, Buffer, string, string>;

/** A consumer with auto-commit off (commits follow acknowledgements) and the missing-broker guard. */
export function createGroupConsumer(client: KafkaClientOptions, options: SubscribeOptions): GroupConsumer {
  const consumer = new Consumer({
    clientId: `${client.clientId}-consumer`,
    groupId: options.group,
    bootstrapBrokers: client.brokers,
    deserializers: kafkaDeserializers,
    autocommit: false,
    sessionTimeout: client.sessionTimeoutMs,
    rebalanceTimeout: client.sessionTimeoutMs,
    heartbeatInterval: client.heartbeatIntervalMs,
    maxWaitTime: options.maxFetchWaitMs ?? client.maxWaitTimeMs,
    minBytes: client.fetchMinBytes,
    maxBytesPerPartition: client.fetchMaxBytesPerPartition,
    timeout: client.requestTimeoutMs,
    retries: client.retries,
  });
  guardMissingBrokers(consumer.connections);
  preferAnsweringBrokers(consumer.connections);
  return consumer;
}

/**
 * Leaves the group (its partitions move to the other members at once) and closes the
 * connections. When the coordinator cannot be reached to leave (the reason a consumer is being
 * rebuilt), the connections are closed without leaving: the group drops the member after its
 * session timeout, as it would after a crash. Never rejects; failures go to `onError`.
 */
export async function closeGroupConsumer(consumer: GroupConsumer, onError: (error: Error) => void): Promise<void> {
  try {
    await forceClose(consumer);
    return;
  } catch (error) {
    onError(toError(error));
  }
  // The failed close cancelled the heartbeats and closed the streams; with no member id the
  // client skips the LeaveGroup request and closes its connection pool.
  consumer.memberId = null;
  await forceClose(consumer).catch((error: unknown) => onError(toError(error)));
}

/** `close(true)`: closes the consumer's streams first, then leaves and disconnects. */
function forceClose(consumer: GroupConsumer): Promise<void> {
  return new Promise((resolve, reject) => {
    consumer.close(true, ((error?: Error | null) => (error ? reject(error) : resolve())) as CallbackWithPromise<void>);
  });
}
