/**
 * One Kafka consumer-group member for one topic. The client's stream fetches; each owned
 * partition's messages go to a PartitionWorker, which handles them in order and commits only
 * what was acknowledged. Auto-commit is off: the client's auto-commit marks a message as done
 * when it is fetched, which would lose it if the process died before handling it.
 *
 * A partition this member is granted starts at the group's committed offset, looked up by the
 * subscription itself, and its records are delivered without a gap: the client's fetch position
 * can run ahead of what was delivered across a rebalance, and is moved back when it does
 * (delivery-cursor.ts).
 *
 * When the client cannot go on (its stream failed, or it is stuck on a group coordinator that
 * moved: coordinator-watch.ts), the member is rebuilt: the old consumer is dropped with nothing
 * more committed through it, and a new one joins and resumes from the group's last commit.
 */
import type { Message, MessagesStream } from '@platformatic/kafka';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, KitsuneError, toError } from '../../errors.ts';
import { PartitionWorker, type Delivery } from '../partition-worker.ts';
import { reservedHeaders, type ReceivedMessage, type SubscribeOptions, type Subscription } from '../types.ts';
import { CoordinatorWatch } from './coordinator-watch.ts';
import { DeliveryCursor } from './delivery-cursor.ts';
import { closeGroupConsumer, createGroupConsumer, type GroupConsumer } from './group-consumer.ts';
import { OffsetCommits } from './offset-commits.ts';
import type { KafkaClientOptions } from './options.ts';
import { startOffsets } from './start-offsets.ts';

type KafkaMessage = Message<string | undefined, Buffer, string, string>;

interface OwnedPartition {
  worker: PartitionWorker;
  /** The offset the next record handed to the worker must have. */
  cursor: DeliveryCursor;
}

/**
 * Where a reported error came from: 'handler' errors are the consumer's own (redelivered, and
 * logged by the worker that owns the handler); 'position' is the client's fetch position found
 * ahead of delivery and moved back; the rest are the Kafka client's failures.
 */
export type KafkaErrorSource = 'handler' | 'commit' | 'stream' | 'coordinator' | 'close' | 'position';
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
  /** Bumped by every assignment: a start-offset lookup for an older one is dropped. */
  #assignmentEpoch = 0;
  /** Partitions whose fetch position is to be moved back once the client's current callback is done. */
  readonly #seeking = new Set<number>();
  /** The current member's consumer, stream and commits; all three are replaced by a rebuild. */
  #consumer: GroupConsumer | undefined;
  #stream: MessagesStream<string | undefined, Buffer, string, string> | undefined;
  #commits: OffsetCommits | undefined;
  #paused = false;
  #backpressured = false;
  #closing: Promise<void> | undefined;
  #rebuilding: Promise<void> | undefined;

  constructor(params: KafkaSubscriptionParams) {
    this.#params = params;
    this.#maxBatchSize = params.options.maxBatchSize ?? 500;
  }

  /** Joins the group and starts fetching; resolves once the stream is set up. */
  async start(): Promise<void> {
    const { client, topic, options } = this.#params;
    const consumer = createGroupConsumer(client, options);
    const watch = new CoordinatorWatch({ boundMs: client.sessionTimeoutMs });
    const groupRequestFailed = (error: unknown): void => {
      const trouble = watch.failed(error);
      if (trouble === undefined) return;
      const message = `the Kafka consumer cannot reach its group coordinator (${trouble}); rebuilding it`;
      this.#rebuild(consumer, new KitsuneError(ErrorCodes.UNAVAILABLE, message, { retryable: true, cause: error }), 'coordinator');
    };
    // Events of a consumer that was replaced are ignored: it is being closed.
    consumer.on('consumer:group:join', () => consumer === this.#consumer && this.#onAssignment());
    consumer.on('consumer:group:leave', () => consumer === this.#consumer && this.#onAssignment());
    consumer.on('consumer:heartbeat:end', () => watch.succeeded());
    consumer.on('consumer:heartbeat:error', ({ error }) => groupRequestFailed(error));
    // The client emits 'error' when it gives up rejoining the group after a failed heartbeat: the
    // member is out of the group for good. Unlistened, the event would end the process.
    consumer.on('error', (error: Error) => this.#rebuild(consumer, error, 'coordinator'));
    this.#consumer = consumer;
    this.#commits = new OffsetCommits(async (offsets) => {
      try {
        await consumer.commit({ offsets: [...offsets].map(([partition, offset]) => ({ topic, partition, offset, leaderEpoch: -1 })) });
      } catch (error) {
        groupRequestFailed(error);
        throw toError(error);
      }
      watch.succeeded();
    });
    // A group with no committed offset starts at the beginning: a worker group that joins after
    // events were published must still see them.
    const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
    this.#stream = stream;
    stream.on('data', (message) => stream === this.#stream && this.#onMessage(message));
    // The client gave up on the stream (e.g. the broker was unreachable past its retries).
    stream.on('error', (error) => this.#rebuild(consumer, error, 'stream'));
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
    // A rebuild in progress sees #closing and stops before starting another member.
    await this.#rebuilding;
    this.#stream?.pause();
    const owned = [...this.#owned.values()];
    this.#owned.clear();
    await Promise.all(owned.map(({ worker }) => worker.stop({ commit: true })));
    await this.#stream?.close().catch((error: unknown) => this.#params.onError(toError(error), 'close'));
    // Leaves the group, so the partitions move to the remaining members at once.
    if (this.#consumer) await closeGroupConsumer(this.#consumer, (error) => this.#params.onError(error, 'close'));
  }

  /**
   * Called after every join: partitions we no longer own were taken by the group; partitions we
   * were granted start once their committed offsets are known.
   */
  #onAssignment(): void {
    const consumer = this.#consumer;
    if (!consumer) return;
    const assignment = consumer.assignments?.find((a) => a.topic === this.#params.topic);
    this.#assigned = new Set(assignment?.partitions ?? []);
    this.#assignmentEpoch += 1;
    for (const [partition, { worker }] of this.#owned) {
      if (this.#assigned.has(partition)) continue;
      // Lost in a rebalance: another member resumes from the last commit. Committing now could
      // overwrite that member's progress, so nothing more is committed for it here.
      this.#owned.delete(partition);
      void worker.stop({ commit: false });
    }
    const granted = [...this.#assigned].filter((partition) => !this.#owned.has(partition));
    if (granted.length > 0) void this.#startPartitions(consumer, granted, this.#assignmentEpoch);
  }

  /**
   * Looks up where the granted partitions start (the group's commit, or the log's start when
   * there is none) and owns them from there. Until then their records are dropped, and the
   * fetch position is moved to the start once known. A failed lookup is retried while the
   * assignment holds; a coordinator that is gone for good is the heartbeat watch's to rebuild.
   */
  async #startPartitions(consumer: GroupConsumer, partitions: number[], epoch: number): Promise<void> {
    const current = (): boolean => consumer === this.#consumer && epoch === this.#assignmentEpoch && !this.#closing;
    while (current()) {
      try {
        const starts = await startOffsets(consumer, this.#params.topic, partitions);
        const commits = this.#commits;
        if (!current() || !commits) return;
        for (const [partition, offset] of starts) {
          if (!this.#assigned.has(partition) || this.#owned.has(partition)) continue;
          this.#own(partition, offset, commits);
          this.#seek(partition, offset);
        }
        return;
      } catch (error) {
        if (!current()) return;
        this.#params.onError(toError(error), 'coordinator');
      }
      await sleep(1_000);
    }
  }

  #onMessage(message: KafkaMessage): void {
    if (this.#closing || !this.#assigned.has(message.partition)) return;
    // Not started yet: the position is moved to the partition's start once it is known.
    const owned = this.#owned.get(message.partition);
    if (!owned) return;
    const verdict = owned.cursor.check(message.offset);
    if (verdict === 'behind') return;
    if (verdict === 'ahead') return this.#seekSoon(message.partition, owned);
    if (verdict === 'deliver-after-hole') {
      const { topic, partition, offset } = message;
      this.#params.onError(new Error(`${topic}/${partition}: no record before offset ${offset} since the last one delivered (transaction markers or compaction); going on from ${offset}`), 'position');
    }
    owned.worker.enqueue([this.#received(message)]);
    if (!this.#backpressured && this.#queued() >= this.#queueLimit()) {
      this.#backpressured = true;
      this.#applyFlow();
    }
  }

  /** `commits` is the current member's: a worker never commits through a member that replaced its own. */
  #own(partition: number, start: bigint, commits: OffsetCommits): OwnedPartition {
    const { delivery, options } = this.#params;
    const worker: PartitionWorker = new PartitionWorker({
      delivery,
      maxBatchSize: this.#maxBatchSize,
      redeliveryDelayMs: options.redeliveryDelayMs ?? 200,
      onError: (error, messages) => this.#params.onError(toError(error), messages.length > 0 ? 'handler' : 'commit'),
      commit: async (nextOffset) => {
        if (this.#owned.get(partition)?.worker === worker || this.#closing) await commits.commit(partition, nextOffset);
        this.#relieveBackpressure();
      },
    });
    const owned = { worker, cursor: new DeliveryCursor(start) };
    this.#owned.set(partition, owned);
    return owned;
  }

  /** Where the client fetches `partition` from next; its stream keeps one position per partition. */
  #seek(partition: number, offset: bigint): void {
    this.#stream?.offsetsToFetch.set(`${this.#params.topic}:${partition}`, offset);
  }

  /**
   * Moves the position back to what `owned` expects, on the next tick: a record is handed over
   * while the client is still reading its fetch response, which sets the position from that
   * response after some of its records; the client fetches again only on a later tick.
   */
  #seekSoon(partition: number, owned: OwnedPartition): void {
    if (this.#seeking.has(partition)) return;
    this.#seeking.add(partition);
    process.nextTick(() => {
      this.#seeking.delete(partition);
      if (this.#owned.get(partition) !== owned) return;
      this.#params.onError(new Error(`${this.#params.topic}/${partition}: the fetch position ran ahead of delivery; fetching again from offset ${owned.cursor.next}`), 'position');
      this.#seek(partition, owned.cursor.next);
    });
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
   * Drops `consumer` and starts a new member in its place. Workers stop without committing (their
   * partitions may already be another member's), so what they handled since the last commit is
   * redelivered from it: handlers are idempotent. Runs once per consumer; close() waits for it.
   */
  #rebuild(consumer: GroupConsumer, error: Error, source: KafkaErrorSource): void {
    this.#params.onError(error, source);
    this.#replace(consumer, source);
  }

  #replace(consumer: GroupConsumer, source: KafkaErrorSource): void {
    if (this.#closing || consumer !== this.#consumer) return;
    // The member a rebuild just started failed before the rebuild finished: replace it after.
    if (this.#rebuilding) return void this.#rebuilding.then(() => this.#replace(consumer, source));
    const owned = [...this.#owned.values()];
    const stream = this.#stream;
    this.#owned.clear();
    this.#assigned.clear();
    this.#consumer = undefined;
    this.#stream = undefined;
    this.#commits = undefined;
    this.#backpressured = false;
    this.#rebuilding = (async () => {
      await Promise.all(owned.map(({ worker }) => worker.stop({ commit: false })));
      await stream?.close().catch(() => undefined);
      await closeGroupConsumer(consumer, (closeError) => this.#params.onError(closeError, 'close'));
      while (!this.#closing) {
        try {
          await this.start();
          return;
        } catch (restartError) {
          this.#params.onError(toError(restartError), source);
          const failed = this.#consumer;
          this.#consumer = undefined;
          if (failed) await closeGroupConsumer(failed, () => undefined);
        }
        // Unreachable brokers: try again, without spinning.
        await sleep(1_000);
      }
    })().finally(() => (this.#rebuilding = undefined));
  }
}
