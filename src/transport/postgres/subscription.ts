/**
 * A running consumer of one topic in one group: fetches the partitions its GroupMembership holds
 * and feeds each into a PartitionWorker, which does ordering, redelivery and commits.
 *
 * Fetching is one query for all due partitions (MessageFetch), woken by NOTIFY, by a handler
 * finishing on a partition that is behind, or by the fallback poll. Backpressure: a partition is
 * due only while fewer than half a batch of its messages wait in its worker, so at most about
 * 1.5 × maxBatchSize fetched messages per partition are held in memory.
 */
import type { Delivery } from '../partition-worker.ts';
import { PartitionWorker } from '../partition-worker.ts';
import type { ReceivedMessage, Subscription } from '../types.ts';
import { reservedHeaders } from '../types.ts';
import type { LogContext } from './context.ts';
import { GroupMembership, type Lease, type PartitionOwner } from './membership.ts';
import { Wakeup } from './wakeup.ts';

interface MessageRow {
  partition: number;
  offset: string;
  id: string;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
  created_at: Date;
}

interface Consumer {
  readonly lease: Lease;
  readonly worker: PartitionWorker;
  /** Next offset to fetch. */
  next: bigint;
  /** The last fetch came back full: there is probably more to read right now. */
  behind: boolean;
}

export interface SubscriptionOptions {
  topic: string;
  group: string;
  partitions: number;
  delivery: Delivery;
  maxBatchSize: number;
  redeliveryDelayMs: number;
  onClosed: () => void;
}

export class PostgresSubscription implements Subscription, PartitionOwner {
  readonly topic: string;
  readonly group: string;
  readonly #context: LogContext;
  readonly #options: SubscriptionOptions;
  readonly #membership: GroupMembership;
  readonly #consumers = new Map<number, Consumer>();
  readonly #wakeup = new Wakeup();
  readonly #lowWater: number;
  #paused = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #loop: Promise<void> | undefined;

  constructor(context: LogContext, options: SubscriptionOptions) {
    this.#context = context;
    this.#options = options;
    this.topic = options.topic;
    this.group = options.group;
    this.#lowWater = Math.max(1, Math.floor(options.maxBatchSize / 2));
    this.#membership = new GroupMembership(context, { ...options, owner: this });
  }

  /** Joins the group and starts fetching; rejects if the database cannot be reached. */
  async start(): Promise<void> {
    await this.#membership.start();
    if (!this.#closed) this.#loop = this.#fetchLoop();
  }

  /** New messages were announced on the topic. */
  wake(): void {
    this.#wakeup.signal();
  }

  /** Members joined, left or released partitions. */
  membershipChanged(): void {
    this.#membership.requestTick();
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Stops fetching; messages already fetched (at most ~1.5 batches per partition) are still handled. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#wakeup.signal();
  }

  assignedPartitions(): readonly number[] {
    return this.#membership.held();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#wakeup.signal();
      await this.#loop;
      await this.#membership.close();
      this.#options.onClosed();
    })();
    return this.#closing;
  }

  acquired(lease: Lease, fromOffset: bigint): void {
    const { delivery, maxBatchSize, redeliveryDelayMs } = this.#options;
    // Checked as each handler call starts (the worker just took a batch from its queue) and ends.
    const checkDue = (): void => {
      const consumer = this.#consumers.get(lease.partition);
      if (consumer?.behind && consumer.worker.queued < this.#lowWater) this.#wakeup.signal();
    };
    const watched: Delivery =
      delivery.kind === 'message'
        ? { kind: 'message', handler: (message) => { checkDue(); return delivery.handler(message).finally(checkDue); } }
        : { kind: 'batch', handler: (messages) => { checkDue(); return delivery.handler(messages).finally(checkDue); } };
    const worker = new PartitionWorker({
      delivery: watched,
      maxBatchSize,
      redeliveryDelayMs,
      commit: (nextOffset) => this.#membership.commit(lease, nextOffset),
      onError: (error, messages) => this.#context.report(error, messages.length > 0 ? 'handler' : 'commit'),
    });
    this.#consumers.set(lease.partition, { lease, worker, next: fromOffset, behind: true });
    this.#wakeup.signal();
  }

  async release(partition: number): Promise<void> {
    await this.#stop(partition, true);
  }

  async lost(partition: number): Promise<void> {
    await this.#stop(partition, false);
  }

  async #stop(partition: number, commit: boolean): Promise<void> {
    const consumer = this.#consumers.get(partition);
    if (!consumer) return;
    this.#consumers.delete(partition);
    await consumer.worker.stop({ commit });
  }

  async #fetchLoop(): Promise<void> {
    const { pollIntervalMs, retryDelayMs } = this.#context.settings;
    while (!this.#closed) {
      await this.#wakeup.wait(pollIntervalMs);
      if (this.#closed || this.#paused) continue;
      try {
        while (!this.#closed && !this.#paused && (await this.#fetchOnce())) {
          // a partition came back full and can take more: read on without waiting
        }
      } catch (error) {
        this.#context.report(error, 'fetch');
        await this.#wakeup.wait(retryDelayMs);
      }
    }
  }

  /** Fetches every due partition once; true if one of them is still behind and due. */
  async #fetchOnce(): Promise<boolean> {
    const { maxBatchSize } = this.#options;
    const due = [...this.#consumers.values()].filter((consumer) => consumer.worker.queued < this.#lowWater);
    if (due.length === 0) return false;
    const { rows } = await this.#context.pool.query<MessageRow>(this.#context.sql.MessageFetch, [
      this.topic,
      due.map((consumer) => consumer.lease.partition),
      due.map((consumer) => consumer.next.toString()),
      maxBatchSize,
    ]);
    // Paused or closed meanwhile: drop the result; `next` is unchanged, so nothing is skipped.
    if (this.#closed || this.#paused) return false;
    const fetched = new Map<number, ReceivedMessage[]>();
    for (const row of rows) {
      let list = fetched.get(row.partition);
      if (!list) fetched.set(row.partition, (list = []));
      list.push(this.#received(row));
    }
    let more = false;
    for (const consumer of due) {
      // Released or lost while the query ran.
      if (this.#consumers.get(consumer.lease.partition) !== consumer) continue;
      const messages = fetched.get(consumer.lease.partition) ?? [];
      consumer.behind = messages.length === maxBatchSize;
      if (messages.length === 0) continue;
      consumer.next = messages[messages.length - 1]!.offset + 1n;
      consumer.worker.enqueue(messages);
      if (consumer.behind && consumer.worker.queued < this.#lowWater) more = true;
    }
    return more;
  }

  #received(row: MessageRow): ReceivedMessage {
    const headers = Object.assign(Object.create(null) as Record<string, string>, row.headers, { [reservedHeaders.id]: row.id });
    return {
      id: row.id,
      key: row.key ?? undefined,
      value: row.value,
      headers,
      topic: this.topic,
      partition: row.partition,
      offset: BigInt(row.offset),
      timestamp: row.created_at.getTime(),
      attempt: 1,
    };
  }
}
