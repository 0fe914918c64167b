/**
 * The Kafka transport, on @platformatic/kafka (see docs/decisions/0002-kafka-client.md).
 */
import { transportClosed, toError } from '../../errors.ts';
import type { Delivery } from '../partition-worker.ts';
import type {
  BatchHandler,
  Handler,
  LagQuery,
  OutgoingMessage,
  PartitionLag,
  SubscribeOptions,
  Subscription,
  TopicSpec,
  Transport,
  TransportFeatures,
} from '../types.ts';
import { kafkaDefaults, type KafkaClientOptions, type KafkaTransportOptions } from './options.ts';
import { KafkaLagReader } from './lag.ts';
import { KafkaPublisher } from './publisher.ts';
import { KafkaSubscription, type KafkaErrorHandler } from './subscription.ts';

export type { KafkaErrorHandler, KafkaErrorSource } from './subscription.ts';
import { ensureKafkaTopics } from './topics.ts';

export type { KafkaTransportOptions } from './options.ts';

export const kafkaFeatures: TransportFeatures = {
  persistent: true,
  consumerGroups: true,
  orderedByKey: true,
  crossProcess: true,
};

export class KafkaTransport implements Transport {
  readonly name = 'kafka';
  readonly features = kafkaFeatures;
  readonly #client: KafkaClientOptions;
  readonly #publisher: KafkaPublisher;
  readonly #lag: KafkaLagReader;
  readonly #subscriptions = new Set<KafkaSubscription>();
  readonly #onError: KafkaErrorHandler;
  #closed: Promise<void> | undefined;

  constructor(options: KafkaTransportOptions & { onError?: KafkaErrorHandler }) {
    const { onError, ...rest } = options;
    this.#client = { ...kafkaDefaults, ...rest };
    this.#publisher = new KafkaPublisher(this.#client);
    this.#lag = new KafkaLagReader(this.#client);
    this.#onError = onError ?? (() => undefined);
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    if (this.#closed) throw transportClosed('ensureTopics');
    await ensureKafkaTopics(this.#client, topics);
  }

  consumerLag(queries: readonly LagQuery[]): Promise<PartitionLag[]> {
    if (this.#closed) return Promise.reject(transportClosed('consumerLag'));
    return this.#lag.read(queries);
  }

  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(transportClosed('publish'));
    return this.#publisher.publish(topic, messages);
  }

  subscribe(topic: string, handler: Handler, options: SubscribeOptions): Promise<Subscription> {
    return this.#subscribe(topic, { kind: 'message', handler }, options);
  }

  subscribeBatch(topic: string, handler: BatchHandler, options: SubscribeOptions): Promise<Subscription> {
    return this.#subscribe(topic, { kind: 'batch', handler }, options);
  }

  async #subscribe(topic: string, delivery: Delivery, options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw transportClosed('subscribe');
    const subscription = new KafkaSubscription({ topic, delivery, options, client: this.#client, onError: this.#onError });
    this.#subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      this.#subscriptions.delete(subscription);
      await subscription.close();
      throw toError(error);
    }
    return subscription;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
      await Promise.all([this.#publisher.close(), this.#lag.close()]);
    })();
    return this.#closed;
  }
}

export function createKafkaTransport(options: KafkaTransportOptions & { onError?: KafkaErrorHandler }): KafkaTransport {
  return new KafkaTransport(options);
}
