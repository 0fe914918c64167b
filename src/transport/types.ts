/**
 * The transport seam: what Kitsune's API and workers know about the broker that carries their
 * events. Three implementations sit behind it (Kafka, the durable Postgres log, memory) and all of
 * them pass the suite in test/conformance/transport.
 */

/** A message as a producer hands it over. */
export interface OutgoingMessage {
  /** Unique id; travels in the `kitsune-id` header and is returned as `ReceivedMessage.id`. */
  id: string;
  /**
   * Partitioning key. Messages with the same key land on the same partition and are delivered in
   * publish order. Undefined: the transport spreads messages over partitions.
   */
  key?: string | undefined;
  /** Opaque bytes, delivered unchanged. */
  value: Buffer;
  /** String headers, delivered unchanged (`traceparent` rides here). Names starting `kitsune-` are reserved. */
  headers?: Readonly<Record<string, string>>;
}

/** A message as a handler receives it. */
export interface ReceivedMessage {
  id: string;
  key: string | undefined;
  value: Buffer;
  /** A null-prototype record: safe to index with any header name. */
  headers: Readonly<Record<string, string>>;
  topic: string;
  partition: number;
  offset: bigint;
  /** When the broker stored the message, in ms since the epoch. */
  timestamp: number;
  /** 1 on first delivery in this process, incremented on each redelivery after a throw. */
  attempt: number;
}

/**
 * Handles one message. Resolving acknowledges it; throwing asks for redelivery (the same message
 * again, after a pause, before any later message of its partition). Handlers never ack themselves.
 */
export type Handler = (message: ReceivedMessage) => Promise<void>;

/**
 * Handles messages of one partition in offset order, for consumers that want one database
 * transaction per polled batch. Resolving acknowledges all of them; throwing redelivers all of
 * them. Never given messages of two partitions at once.
 */
export type BatchHandler = (messages: readonly ReceivedMessage[]) => Promise<void>;

export interface TopicSpec {
  name: string;
  partitions: number;
  /**
   * Largest record batch the topic takes (Kafka's `max.message.bytes`), set when the topic is
   * created; the Postgres log has no such limit. (Default: the broker's `message.max.bytes`)
   */
  maxMessageBytes?: number;
}

export interface SubscribeOptions {
  /** Consumer group: each message is delivered to one member of each group. */
  group: string;
  /** Most messages fetched per partition per batch. (Default: 500) */
  maxBatchSize?: number;
  /** Pause before redelivering a message whose handler threw. (Default: 200 ms) */
  redeliveryDelayMs?: number;
  /**
   * How long a fetch may wait for more messages before handing over what it has: the latency this
   * consumer accepts while traffic is light, against more, smaller fetches. Kafka only; the
   * Postgres log is woken by notifications. (Default: the transport's setting)
   */
  maxFetchWaitMs?: number;
}

/** A running consumer of one topic in one group. */
export interface Subscription {
  /** Stops fetching new messages; in-flight handlers finish. Idempotent. */
  pause(): void;
  /** Undoes pause(). Idempotent. */
  resume(): void;
  readonly paused: boolean;
  /** Partitions this member currently owns. */
  assignedPartitions(): readonly number[];
  /**
   * Finishes in-flight handlers, commits what they acknowledged, leaves the group. Messages
   * fetched but not started are not acknowledged and go to the next owner. Idempotent.
   */
  close(): Promise<void>;
}

export interface Publisher {
  /**
   * Resolves when the broker durably accepted every message (for Kafka: acks=all). Not atomic
   * across messages: after a rejection some of them may have been written. Concurrent calls are
   * safe and may be batched together. Rejects with TransportClosedError after close().
   */
  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
}

export interface Subscriber {
  /**
   * Starts delivering `topic` to `handler` as a member of `options.group`. Within a partition,
   * messages are handled one at a time in offset order; partitions are handled concurrently.
   * An offset is committed only after its handler resolved and every earlier one did.
   */
  subscribe(topic: string, handler: Handler, options: SubscribeOptions): Promise<Subscription>;
  /** As subscribe(), handing each partition's polled batch to one call. */
  subscribeBatch(topic: string, handler: BatchHandler, options: SubscribeOptions): Promise<Subscription>;
}

/** What an implementation guarantees; the conformance suite reads these, never the name. */
export interface TransportFeatures {
  /** Messages survive a restart of the process and of the broker. */
  persistent: boolean;
  /** Members of one group split partitions; other groups each get everything. */
  consumerGroups: boolean;
  /** Same key → same partition → delivered in publish order. */
  orderedByKey: boolean;
  /** Several processes can publish and consume the same topics. */
  crossProcess: boolean;
}

/** Which consumer group's progress on which topic to measure. */
export interface LagQuery {
  group: string;
  topic: string;
}

/** How far one group is behind on one partition, read from the broker, not from a consumer. */
export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  /** Log end offset − the group's committed offset (a group with none: the oldest retained record). */
  records: number;
  /** Age of the oldest record the group has not committed, by the broker's timestamps; 0 when caught up. */
  seconds: number;
}

export interface Transport extends Publisher, Subscriber {
  readonly name: string;
  readonly features: TransportFeatures;
  /** Creates missing topics with the given partition counts; existing topics are left as they are. */
  ensureTopics(topics: readonly TopicSpec[]): Promise<void>;
  /**
   * Every partition's lag for each query, computed from committed offsets, end offsets and record
   * timestamps as the broker holds them, so it keeps growing while no member consumes (stopped,
   * paused, crashed). Topics that do not exist yield no rows.
   */
  consumerLag(queries: readonly LagQuery[]): Promise<PartitionLag[]>;
  /** Closes every subscription (as Subscription.close()) and the publisher. Idempotent. */
  close(): Promise<void>;
}

/** Header names the transports own. */
export const reservedHeaders = {
  id: 'kitsune-id',
} as const;
