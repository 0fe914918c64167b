import { stringDeserializer, stringSerializer, type Deserializers, type Serializers } from '@platformatic/kafka';

export interface KafkaTransportOptions {
  /** Bootstrap addresses, `host:port`. */
  brokers: string[];
  /** Prefix of the client ids the broker sees in its logs and quotas. (Default: 'kitsune') */
  clientId?: string;
  /**
   * A member that sends no heartbeat for this long loses its partitions. Lower means a crashed
   * worker's partitions move sooner; too low and GC pauses cause needless rebalances.
   * (Default: 10_000 ms)
   */
  sessionTimeoutMs?: number;
  /** (Default: 1_000 ms) */
  heartbeatIntervalMs?: number;
  /** Longest a fetch waits for new data; bounds how long close() waits on an idle fetch. (Default: 500 ms) */
  maxWaitTimeMs?: number;
  /**
   * A fetch answers once this many bytes are ready, or after `maxWaitTimeMs` with fewer. At 1 a
   * consumer fetches after nearly every produce request; more makes fewer, fuller fetches at the
   * cost of up to `maxWaitTimeMs` of latency while traffic is light. (Default: 1)
   */
  fetchMinBytes?: number;
  /**
   * Most bytes one fetch returns for one partition. The broker fills a fetch partition by
   * partition, so with the client's 10 MB a backlogged partition took the whole response and its
   * siblings waited until it drained: a worker with six partitions worked on one at a time.
   * The broker still returns a first record batch larger than this. (Default: 262_144)
   */
  fetchMaxBytesPerPartition?: number;
  /**
   * How long a produce request waits for more records before it is sent, applied only while
   * publish() calls arrive less than half this apart (so a lone publish is never delayed), and cut
   * short once 64 KiB are queued. Kafka's own producer defaults to 5 ms since 4.0 for the same
   * reason: per-request costs dominate at moderate rates. 0 sends on the next turn of the event
   * loop. (Default: 0)
   */
  lingerMs?: number;
  /** Per-request timeout of the client. (Default: 10_000 ms) */
  requestTimeoutMs?: number;
  /** Client-level retries of a failed request before publish() rejects. (Default: 3) */
  retries?: number;
  /**
   * Replicas of the topics ensureTopics creates; `min.insync.replicas` is set to 2 from 3 replicas
   * on (1 below), so acks=all survives one broker down. (Default: brokers in the cluster, at most 3)
   */
  replicationFactor?: number;
}

export type KafkaClientOptions = Required<Omit<KafkaTransportOptions, 'clientId' | 'replicationFactor'>> &
  Pick<KafkaTransportOptions, 'replicationFactor'> & { clientId: string };

export const kafkaDefaults = {
  clientId: 'kitsune',
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  maxWaitTimeMs: 500,
  fetchMinBytes: 1,
  fetchMaxBytesPerPartition: 262_144,
  requestTimeoutMs: 10_000,
  retries: 3,
  lingerMs: 0,
} satisfies Omit<KafkaClientOptions, 'brokers'>;

const passBuffer = (data?: Buffer): Buffer | undefined => data;

/** Keys and headers are UTF-8 strings; values stay raw bytes end to end. */
export const kafkaSerializers: Serializers<string, Buffer, string, string> = {
  key: stringSerializer,
  value: passBuffer,
  headerKey: stringSerializer,
  headerValue: stringSerializer,
};

export const kafkaDeserializers: Deserializers<string | undefined, Buffer, string, string> = {
  key: (data) => (data === undefined || data === null ? undefined : data.toString('utf8')),
  value: (data) => data ?? Buffer.alloc(0),
  headerKey: (data) => stringDeserializer(data) ?? '',
  headerValue: (data) => stringDeserializer(data) ?? '',
};
