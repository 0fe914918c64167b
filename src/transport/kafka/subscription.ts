/**
 * One Kafka consumer-group member for one topic. The client's stream fetches; each owned
 * partition's messages go to a PartitionWorker, which handles them in order and commits only
 * what was acknowledged. Auto-commit is off: the client's auto-commit marks a message as done
 * when it is fetched, which would lose it if the process died before handling it.
 */
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import { setTimeout as sleep } from 'node:timers/promises';
import { toError } from '../../errors.ts';
import { PartitionWorker, type Delivery } from '../partition-worker.ts';
import { reservedHeaders, type ReceivedMessage, type SubscribeOptions, type Subscription } from '../types.ts';
import { OffsetCommits } from './offset-commits.ts';
import { kafkaDeserializers, type KafkaClientOptions } from './options.ts';

type KafkaMessage = Message<string | undefined, Buffer, string, string>;

interface OwnedPartition {
  worker: PartitionWorker;
  /** One past the highest offset handed to the worker; refetched older offsets are dropped. */
  nextOffset: bigint;
}

/**
 * Where a reported error came from: 'handler' errors are the consumer's own (redelivered, and
 * logged by the worker that owns the handler); the rest are the Kafka client's.
 */
export type KafkaErrorSource = 'handler' | 'commit' | 'stream' | 'close';
export type KafkaErrorHandler = (error: Error, source: KafkaErrorSource) => void;

export interface KafkaSubscriptionParams {
  topic: string;
  delivery: Delivery;
  options: SubscribeOptions;
  client: KafkaClientOptions;
  onError: KafkaErrorHandler;
}

export class KafkaSubscription implements Subscription {
  readonly #params: KafkaSubscriptionParams;
  readonly #maxBatchSize: number;
  readonly #owned = new Map<number, OwnedPartition>();
  #assigned = new Set<number>();
  #consumer: Consumer<string | undefined, Buffer, string, string> | undefined;
  #stream: MessagesStream<string | undefined, Buffer, string, string> | undefined;
  #paused = false;
  #backpressured = false;
  #closing: Promise<void> | undefined;
  readonly #commits = new OffsetCommits(async (offsets) => {
    const { topic } = this.#params;
    await this.#consumer?.commit({ offsets: [...offsets].map(([partition, offset]) => ({ topic, partition, offset, leaderEpoch: -1 })) });
  });

  constructor(params: KafkaSubscriptionParams) {
    this.#params = params;
    this.#maxBatchSize = params.options.maxBatchSize ?? 500;
  }

  /** Joins the group and starts fetching; resolves once the stream is set up. */
  async start(): Promise<void> {
    const { client, topic, options } = this.#params;
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
    consumer.on('consumer:group:join', () => this.#onAssignment());
    consumer.on('consumer:group:leave', () => this.#onAssignment());
    this.#consumer = consumer;
    // A group with no committed offset starts at the beginning: a worker group that joins after
    // events were published must still see them.
    const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
    this.#stream = stream;
    stream.on('data', (message) => this.#onMessage(message));
    stream.on('error', (error) => this.#onStreamError(error));
    this.#onAssignment();
    this.#applyFlow();
  }

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
    this.#applyFlow();
  }

  resume(): void {
    this.#paused = false;
    this.#applyFlow();
  }

  assignedPartitions(): readonly number[] {
    return [...this.#assigned].sort((a, b) => a - b);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stream?.pause();
    const owned = [...this.#owned.values()];
    this.#owned.clear();
    await Promise.all(owned.map(({ worker }) => worker.stop({ commit: true })));
    await this.#stream?.close().catch((error: unknown) => this.#params.onError(toError(error), 'close'));
    // Leaves the group, so the partitions move to the remaining members at once.
    await this.#consumer?.close().catch((error: unknown) => this.#params.onError(toError(error), 'close'));
  }

  /** Called after every join: partitions we no longer own were taken by the group. */
  #onAssignment(): void {
    const assignment = this.#consumer?.assignments?.find((a) => a.topic === this.#params.topic);
    this.#assigned = new Set(assignment?.partitions ?? []);
    for (const [partition, { worker }] of this.#owned) {
      if (this.#assigned.has(partition)) continue;
      // Lost in a rebalance: another member resumes from the last commit. Committing now could
      // overwrite that member's progress, so nothing more is committed for it here.
      this.#owned.delete(partition);
      void worker.stop({ commit: false });
    }
  }

  #onMessage(message: KafkaMessage): void {
    if (this.#closing || !this.#assigned.has(message.partition)) return;
    const owned = this.#owned.get(message.partition) ?? this.#own(message.partition, message.offset);
    if (message.offset < owned.nextOffset) return;
    owned.nextOffset = message.offset + 1n;
    owned.worker.enqueue([this.#received(message)]);
    if (!this.#backpressured && this.#queued() >= this.#queueLimit()) {
      this.#backpressured = true;
      this.#applyFlow();
    }
  }

  #own(partition: number, firstOffset: bigint): OwnedPartition {
    const { delivery, options } = this.#params;
    const worker: PartitionWorker = new PartitionWorker({
      delivery,
      maxBatchSize: this.#maxBatchSize,
      redeliveryDelayMs: options.redeliveryDelayMs ?? 200,
      onError: (error, messages) => this.#params.onError(toError(error), messages.length > 0 ? 'handler' : 'commit'),
      commit: async (nextOffset) => {
        if (this.#owned.get(partition)?.worker === worker || this.#closing) await this.#commits.commit(partition, nextOffset);
        this.#relieveBackpressure();
      },
    });
    const owned = { worker, nextOffset: firstOffset };
    this.#owned.set(partition, owned);
    return owned;
  }

  /**
   * One fetch stream serves every owned partition, so backpressure is on the total: pausing while
   * any single partition is behind would starve the others (they drained one at a time). Memory
   * stays bounded by about two batches per owned partition.
   */
  #queueLimit(): number {
    return this.#maxBatchSize * 2 * Math.max(1, this.#owned.size);
  }

  #queued(): number {
    let total = 0;
    for (const { worker } of this.#owned.values()) total += worker.queued;
    return total;
  }

  #relieveBackpressure(): void {
    if (!this.#backpressured || this.#queued() > this.#queueLimit() / 2) return;
    this.#backpressured = false;
    this.#applyFlow();
  }

  #applyFlow(): void {
    if (!this.#stream || this.#closing) return;
    if (this.#paused || this.#backpressured) this.#stream.pause();
    else this.#stream.resume();
  }

  #received(message: KafkaMessage): ReceivedMessage {
    const headers = Object.create(null) as Record<string, string>;
    for (const [name, value] of message.headers) headers[name] = value;
    return {
      id: headers[reservedHeaders.id] ?? `${message.topic}/${message.partition}/${message.offset}`,
      key: message.key,
      value: message.value,
      headers,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      timestamp: Number(message.timestamp),
      attempt: 1,
    };
  }

  /**
   * The client gave up on the stream (e.g. the broker was unreachable past its retries). Start
   * over with a new member after a pause: uncommitted work is fetched again from the last commit.
   */
  #onStreamError(error: Error): void {
    this.#params.onError(error, 'stream');
    if (this.#closing) return;
    const consumer = this.#consumer;
    const owned = [...this.#owned.values()];
    this.#owned.clear();
    this.#assigned.clear();
    void (async () => {
      await Promise.all(owned.map(({ worker }) => worker.stop({ commit: false })));
      await consumer?.close().catch(() => undefined);
      while (!this.#closing) {
        await sleep(1_000);
        if (this.#closing) return;
        try {
          await this.start();
          return;
        } catch (restartError) {
          this.#params.onError(toError(restartError), 'stream');
        }
      }
    })();
  }
}
