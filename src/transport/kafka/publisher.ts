/**
 * Producing to Kafka: idempotent producer, acks=all, and the Java client's murmur2 partitioning
 * for keyed messages so other producers agree on where an entity's events live.
 */
import { Producer, type MessageToProduce, type Partitioner } from '@platformatic/kafka';
import { ErrorCodes, KitsuneError, transportClosed } from '../../errors.ts';
import { murmur2 } from '../partitioner.ts';
import { reservedHeaders, type OutgoingMessage } from '../types.ts';
import { kafkaSerializers, type KafkaClientOptions } from './options.ts';

type Outgoing = MessageToProduce<string, Buffer, string, string>;

/**
 * Keyed: `toPositive(murmur2(key))`, which the producer takes modulo the partition count (as the
 * Java client does). Unkeyed: round robin per topic; the Java client's sticky batching is not
 * needed because one publish() call is already one batch.
 */
function javaCompatiblePartitioner(): Partitioner<string, Buffer, string, string> {
  const next = new Map<string, number>();
  return (message, key) => {
    if (key !== undefined && key !== null) return murmur2(key) & 0x7fffffff;
    const n = next.get(message.topic) ?? 0;
    next.set(message.topic, (n + 1) & 0x7fffffff);
    return n;
  };
}

export class KafkaPublisher {
  readonly #producer: Producer<string, Buffer, string, string>;
  #closed: Promise<void> | undefined;

  constructor(options: KafkaClientOptions) {
    this.#producer = new Producer({
      clientId: `${options.clientId}-producer`,
      bootstrapBrokers: options.brokers,
      serializers: kafkaSerializers,
      idempotent: true,
      acks: -1,
      partitioner: javaCompatiblePartitioner(),
      timeout: options.requestTimeoutMs,
      retries: options.retries,
    });
  }

  async publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) throw transportClosed('publish');
    if (messages.length === 0) return;
    const records: Outgoing[] = messages.map((message) => ({
      topic,
      key: message.key,
      value: message.value,
      headers: { ...message.headers, [reservedHeaders.id]: message.id },
    }));
    try {
      await this.#producer.send({ messages: records });
    } catch (error) {
      throw new KitsuneError(ErrorCodes.PUBLISH_FAILED, `Kafka did not accept ${messages.length} message(s) for ${topic}`, {
        retryable: true,
        cause: error,
      });
    }
  }

  /** Waits for sends in flight, then disconnects. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#producer.close();
    return this.#closed;
  }
}
