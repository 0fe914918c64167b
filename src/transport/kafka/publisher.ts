/**
 * Producing to Kafka: idempotent producer, acks=all, and the Java client's murmur2 partitioning
 * for keyed messages so other producers agree on where an entity's events live.
 *
 * One produce request is in flight at a time; publishes that arrive meanwhile (from concurrent
 * HTTP requests, across topics) are coalesced into the next one. Two reasons: the client's
 * idempotent producer assigns sequence numbers per send, and two concurrent sends to a partition
 * can reach the broker out of order (OUT_OF_ORDER_SEQUENCE_NUMBER, measured here with 8 sends in
 * flight); and one large request per round trip is also the fastest way to produce.
 *
 * With `lingerMs`, a send also waits that long for more records while publishes arrive faster
 * than half the linger (measured as a moving average of the gaps between them), as Kafka's
 * linger.ms does: at 1,000 requests/s a produce request per request is most of the API's CPU.
 * A lone publish, or 64 KiB queued, goes at once.
 */
import { Producer, type MessageToProduce, type Partitioner } from '@platformatic/kafka';
import { ErrorCodes, KitsuneError, transportClosed } from '../../errors.ts';
import { murmur2 } from '../partitioner.ts';
import { reservedHeaders, type OutgoingMessage } from '../types.ts';
import { kafkaSerializers, type KafkaClientOptions } from './options.ts';
import { answering } from './unanswering-brokers.ts';

type Outgoing = MessageToProduce<string, Buffer, string, string>;

interface Pending {
  topic: string;
  records: Outgoing[];
  /** Keys, values and headers, so coalescing stays under the broker's request limits. */
  bytes: number;
  /** When it was queued (performance.now()), for the linger. */
  at: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Most records in one produce request; more wait for the next round trip. */
const maxRecordsPerSend = 20_000;
/**
 * Most payload bytes coalesced into one request: the broker refuses a partition's batch over
 * message.max.bytes (1 MiB by default) with MESSAGE_TOO_LARGE, which four concurrent publishes of
 * 5,000 × 400 B records reached. A larger publish() is split into several requests, in order.
 */
const maxBytesPerSend = 900 * 1024;

/** Queued bytes that end a linger: past this, waiting saves little per record. */
const lingerBytes = 64 * 1024;
/** Weight of the newest gap in the moving average of gaps between publishes. */
const gapWeight = 0.2;
/** Publishes closer than this (the same turn of the event loop) count as one arrival. */
const sameArrivalMs = 0.05;

/**
 * Keyed: `toPositive(murmur2(key))`, which the producer takes modulo the partition count (as the
 * Java client does). Unkeyed: round robin per topic.
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
  readonly #options: KafkaClientOptions;
  readonly #queue: Pending[] = [];
  #producer: Producer<string, Buffer, string, string>;
  #sending: Promise<void> | undefined;
  #scheduled = false;
  #lingering: NodeJS.Timeout | undefined;
  #queuedBytes = 0;
  /** Moving average of the gap between arrivals, ms; starts as "rare" so nothing lingers at first. */
  #gapMs = Number.POSITIVE_INFINITY;
  #lastArrival = 0;
  #closed: Promise<void> | undefined;

  constructor(options: KafkaClientOptions) {
    this.#options = options;
    this.#producer = this.#newProducer();
  }

  #newProducer(): Producer<string, Buffer, string, string> {
    return answering(new Producer({
      clientId: `${this.#options.clientId}-producer`,
      bootstrapBrokers: this.#options.brokers,
      serializers: kafkaSerializers,
      idempotent: true,
      acks: -1,
      partitioner: javaCompatiblePartitioner(),
      timeout: this.#options.requestTimeoutMs,
      retries: this.#options.retries,
    }));
  }

  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(transportClosed('publish'));
    if (messages.length === 0) return Promise.resolve();
    const records: Outgoing[] = messages.map((message) => ({
      topic,
      key: message.key,
      value: message.value,
      headers: { ...message.headers, [reservedHeaders.id]: message.id },
    }));
    // Chunks under the request limit, queued in order and sent one at a time, so order holds.
    const chunks: Array<Promise<void>> = [];
    let chunk: Outgoing[] = [];
    let bytes = 0;
    const flush = (): void => {
      const records = chunk;
      const size = bytes;
      chunks.push(new Promise<void>((resolve, reject) => this.#queue.push({ topic, records, bytes: size, at: performance.now(), resolve, reject })));
      this.#queuedBytes += size;
      chunk = [];
      bytes = 0;
    };
    messages.forEach((message, i) => {
      let size = message.value.length + (message.key?.length ?? 0) + 64;
      for (const [name, value] of Object.entries(message.headers ?? {})) size += name.length + value.length;
      if (chunk.length > 0 && bytes + size > maxBytesPerSend) flush();
      chunk.push(records[i]!);
      bytes += size;
    });
    flush();
    this.#arrived();
    this.#schedule();
    return Promise.all(chunks).then(() => undefined);
  }

  #arrived(): void {
    const now = performance.now();
    const gap = now - this.#lastArrival;
    if (gap < sameArrivalMs) return;
    this.#lastArrival = now;
    this.#gapMs = Number.isFinite(this.#gapMs) ? this.#gapMs + gapWeight * (gap - this.#gapMs) : gap;
  }

  /**
   * How much longer the oldest queued record should wait: 0 unless lingering is on, publishes
   * arrive faster than half the linger and less than 64 KiB are queued. Records that queued while
   * a send was in flight have been waiting all along, so they rarely wait more.
   */
  #lingerLeft(): number {
    const linger = this.#options.lingerMs;
    const oldest = this.#queue[0];
    if (linger <= 0 || !oldest || this.#queuedBytes >= lingerBytes || !(this.#gapMs * 2 < linger)) return 0;
    return Math.max(0, oldest.at + linger - performance.now());
  }

  /** Sends on the next turn of the event loop, so every request parsed in this one rides along (or after the linger). */
  #schedule(): void {
    if (this.#sending || this.#scheduled) return;
    const wait = this.#lingerLeft();
    if (wait >= 1) {
      this.#lingering ??= setTimeout(() => {
        this.#lingering = undefined;
        this.#schedule();
      }, wait);
      return;
    }
    clearTimeout(this.#lingering);
    this.#lingering = undefined;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#sending || this.#queue.length === 0) return;
    const batch: Pending[] = [];
    let size = 0;
    let bytes = 0;
    const fits = (next: Pending): boolean => size + next.records.length <= maxRecordsPerSend && bytes + next.bytes <= maxBytesPerSend;
    while (this.#queue.length > 0 && (batch.length === 0 || fits(this.#queue[0]!))) {
      const next = this.#queue.shift()!;
      this.#queuedBytes -= next.bytes;
      batch.push(next);
      size += next.records.length;
      bytes += next.bytes;
    }
    this.#sending = this.#send(batch).finally(() => {
      this.#sending = undefined;
      // What queued meanwhile goes now, or lingers as a new arrival would.
      if (this.#queue.length > 0) this.#schedule();
    });
  }

  async #send(batch: Pending[]): Promise<void> {
    try {
      await this.#producer.send({ messages: batch.flatMap((pending) => pending.records) });
      for (const pending of batch) pending.resolve();
    } catch (error) {
      // After any failed send the producer's sequence numbers cannot be trusted. The client counts
      // a partition's sequence up only when its produce is answered; one whose answer was lost
      // (a broker killed after it wrote and replicated the batch) keeps its number, and the next
      // send reuses it for other records. When the counts match, the broker takes that batch for
      // a retry of the written one, answers success and stores nothing: an acknowledged event
      // lost. A new producer id has no history for the broker to match (decision 0049).
      const used = this.#producer;
      this.#producer = this.#newProducer();
      void used.close().catch(() => undefined);
      for (const pending of batch) {
        const message = `Kafka did not accept ${pending.records.length} message(s) for ${pending.topic}`;
        pending.reject(new KitsuneError(ErrorCodes.PUBLISH_FAILED, message, { retryable: true, cause: error }));
      }
    }
  }

  /** Sends what is queued, then disconnects. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearTimeout(this.#lingering);
      this.#lingering = undefined;
      this.#pump();
      while (this.#sending) await this.#sending;
      await this.#producer.close();
    })();
    return this.#closed;
  }
}
