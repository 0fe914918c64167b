/**
 * An in-process transport for unit tests. NOT durable: everything lives in one MemoryBroker
 * object and is gone with the process. It keeps the same rules as the real transports (partitions,
 * key order, consumer groups that split partitions, commits only after acknowledgement), so code
 * tested on it behaves the same on Kafka and on the Postgres log.
 *
 * Several MemoryTransport instances sharing one MemoryBroker stand in for several processes.
 */
import { EventEmitter } from 'node:events';
import { transportClosed } from '../../errors.ts';
import { PartitionWorker, type Delivery } from '../partition-worker.ts';
import { partitionForKey } from '../partitioner.ts';
import type {
  BatchHandler,
  Handler,
  OutgoingMessage,
  ReceivedMessage,
  SubscribeOptions,
  Subscription,
  LagQuery,
  PartitionLag,
  TopicSpec,
  Transport,
  TransportFeatures,
} from '../types.ts';
import { reservedHeaders } from '../types.ts';

interface StoredMessage {
  id: string;
  key: string | undefined;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: number;
}

class Group {
  readonly committed = new Map<number, bigint>();
  readonly members: MemoryMember[] = [];
  #rebalancing: Promise<void> = Promise.resolve();

  /** Range-free round robin: partition p goes to member p % members. Serialised per group. */
  rebalance(partitions: number): Promise<void> {
    this.#rebalancing = this.#rebalancing.then(async () => {
      const owners = new Map<MemoryMember, number[]>(this.members.map((member) => [member, []]));
      for (let p = 0; p < partitions && this.members.length > 0; p++) {
        owners.get(this.members[p % this.members.length]!)!.push(p);
      }
      // Everyone lets go first, so no partition ever has two owners.
      await Promise.all(this.members.map((member) => member.revokeAllBut(owners.get(member) ?? [])));
      for (const [member, owned] of owners) member.assign(owned);
    });
    return this.#rebalancing;
  }
}

export class MemoryBroker {
  readonly topics = new Map<string, StoredMessage[][]>();
  readonly groups = new Map<string, Group>();
  readonly appended = new EventEmitter();

  constructor() {
    this.appended.setMaxListeners(0);
  }

  group(topic: string, name: string): Group {
    const id = `${topic}\u0000${name}`;
    let group = this.groups.get(id);
    if (!group) this.groups.set(id, (group = new Group()));
    return group;
  }

  partitions(topic: string): StoredMessage[][] {
    const partitions = this.topics.get(topic);
    if (!partitions) throw new Error(`memory transport: unknown topic ${topic}; call ensureTopics first`);
    return partitions;
  }
}

class MemoryMember implements Subscription {
  readonly #broker: MemoryBroker;
  readonly #topic: string;
  readonly #group: Group;
  readonly #delivery: Delivery;
  readonly #options: Required<Omit<SubscribeOptions, 'maxFetchWaitMs'>>;
  readonly #workers = new Map<number, { worker: PartitionWorker; next: bigint }>();
  readonly #onAppend = (topic: string): void => {
    if (topic === this.#topic) this.#pump();
  };
  #paused = false;
  #closing: Promise<void> | undefined;

  constructor(broker: MemoryBroker, topic: string, delivery: Delivery, options: SubscribeOptions) {
    this.#broker = broker;
    this.#topic = topic;
    this.#group = broker.group(topic, options.group);
    this.#delivery = delivery;
    this.#options = { maxBatchSize: 500, redeliveryDelayMs: 200, ...options };
  }

  async join(): Promise<void> {
    this.#group.members.push(this);
    this.#broker.appended.on('append', this.#onAppend);
    await this.#group.rebalance(this.#broker.partitions(this.#topic).length);
  }

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  assignedPartitions(): readonly number[] {
    return [...this.#workers.keys()].sort((a, b) => a - b);
  }

  async revokeAllBut(keep: readonly number[]): Promise<void> {
    const revoked = [...this.#workers].filter(([partition]) => !keep.includes(partition));
    for (const [partition] of revoked) this.#workers.delete(partition);
    await Promise.all(revoked.map(([, { worker }]) => worker.stop({ commit: true })));
  }

  assign(partitions: readonly number[]): void {
    if (this.#closing) return;
    for (const partition of partitions) {
      if (this.#workers.has(partition)) continue;
      const worker = new PartitionWorker({
        delivery: this.#delivery,
        maxBatchSize: this.#options.maxBatchSize,
        redeliveryDelayMs: this.#options.redeliveryDelayMs,
        // Revocation waits for the old owner's stop() before the new owner starts, so an
        // in-process member never needs fencing.
        commit: (nextOffset) => {
          this.#group.committed.set(partition, nextOffset);
          this.#pump();
          return Promise.resolve();
        },
      });
      this.#workers.set(partition, { worker, next: this.#group.committed.get(partition) ?? 0n });
    }
    this.#pump();
  }

  #pump(): void {
    if (this.#paused || this.#closing) return;
    const partitions = this.#broker.partitions(this.#topic);
    for (const [partition, state] of this.#workers) {
      if (state.worker.queued >= this.#options.maxBatchSize) continue;
      const log = partitions[partition] ?? [];
      const end = Math.min(log.length, Number(state.next) + this.#options.maxBatchSize);
      const fetched: ReceivedMessage[] = [];
      for (let offset = Number(state.next); offset < end; offset++) {
        const stored = log[offset]!;
        const headers = Object.assign(Object.create(null) as Record<string, string>, stored.headers);
        fetched.push({ ...stored, headers, topic: this.#topic, partition, offset: BigInt(offset), attempt: 1 });
      }
      state.next = BigInt(end);
      state.worker.enqueue(fetched);
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#broker.appended.off('append', this.#onAppend);
      const index = this.#group.members.indexOf(this);
      if (index >= 0) this.#group.members.splice(index, 1);
      const workers = [...this.#workers.values()];
      this.#workers.clear();
      await Promise.all(workers.map(({ worker }) => worker.stop({ commit: true })));
      await this.#group.rebalance(this.#broker.partitions(this.#topic).length);
    })();
    return this.#closing;
  }
}

export const memoryFeatures: TransportFeatures = {
  persistent: false,
  consumerGroups: true,
  orderedByKey: true,
  crossProcess: false,
};

export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly features = memoryFeatures;
  readonly broker: MemoryBroker;
  readonly #subscriptions = new Set<MemoryMember>();
  #roundRobin = 0;
  #closed: Promise<void> | undefined;

  constructor(broker: MemoryBroker = new MemoryBroker()) {
    this.broker = broker;
  }

  ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    if (this.#closed) return Promise.reject(transportClosed('ensureTopics'));
    for (const { name, partitions } of topics) {
      if (!this.broker.topics.has(name)) this.broker.topics.set(name, Array.from({ length: partitions }, () => []));
    }
    return Promise.resolve();
  }

  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(transportClosed('publish'));
    const partitions = this.broker.partitions(topic);
    const now = Date.now();
    for (const message of messages) {
      const partition =
        message.key === undefined ? this.#roundRobin++ % partitions.length : partitionForKey(message.key, partitions.length);
      const headers: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, message.headers, {
        [reservedHeaders.id]: message.id,
      });
      partitions[partition]!.push({ id: message.id, key: message.key, value: Buffer.from(message.value), headers, timestamp: now });
    }
    this.broker.appended.emit('append', topic);
    return Promise.resolve();
  }

  consumerLag(queries: readonly LagQuery[]): Promise<PartitionLag[]> {
    const now = Date.now();
    return Promise.resolve(
      queries.flatMap(({ group, topic }) =>
        (this.broker.topics.get(topic) ?? []).map((messages, partition) => {
          const committed = Number(this.broker.group(topic, group).committed.get(partition) ?? 0n);
          const oldest = messages[committed];
          return { group, topic, partition, records: messages.length - committed, seconds: oldest ? Math.max(0, now - oldest.timestamp) / 1000 : 0 };
        }),
      ),
    );
  }

  subscribe(topic: string, handler: Handler, options: SubscribeOptions): Promise<Subscription> {
    return this.#subscribe(topic, { kind: 'message', handler }, options);
  }

  subscribeBatch(topic: string, handler: BatchHandler, options: SubscribeOptions): Promise<Subscription> {
    return this.#subscribe(topic, { kind: 'batch', handler }, options);
  }

  async #subscribe(topic: string, delivery: Delivery, options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw transportClosed('subscribe');
    const member = new MemoryMember(this.broker, topic, delivery, options);
    this.#subscriptions.add(member);
    await member.join();
    return member;
  }

  close(): Promise<void> {
    this.#closed ??= Promise.all([...this.#subscriptions].map((member) => member.close())).then(() => undefined);
    return this.#closed;
  }
}
