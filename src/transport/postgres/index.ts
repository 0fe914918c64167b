/**
 * The durable Postgres log: Kitsune's single-machine transport, in the same database as the
 * commands. Topics are append-only tables split into partitions with dense offsets; consumer
 * groups hold partitions by lease and commit offsets per (group, topic, partition); consumers
 * are woken by LISTEN/NOTIFY with a slow poll behind it. It passes the same conformance suite as
 * Kafka (test/conformance/postgres.test.ts).
 *
 * Limits: one writer per partition at a time (see writer.ts), so throughput is bounded by commit
 * latency × partitions, lifted by coalescing concurrent publishes; NOTIFY serialises committing
 * transactions that notify on a global lock, which matters only at thousands of publishes per
 * second; partition counts never change once a topic exists; keys, ids and headers cannot
 * contain U+0000 (text/jsonb). Kafka is the engine when these bind.
 */
import pg from 'pg';
import { NotificationListener } from '../../db/listener.ts';
import { hearClientErrors } from '../../db/pool.ts';
import { ErrorCodes, KitsuneError, toError, transportClosed } from '../../errors.ts';
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
import { decodeNotice, type LogContext } from './context.ts';
import { defaults, resolveSettings, type ErrorSource, type PostgresTransportOptions } from './options.ts';
import { readConsumerLag } from './lag.ts';
import { isTransient } from './pg-errors.ts';
import { PostgresPublisher } from './publisher.ts';
import { RetentionSweeper } from './retention.ts';
import { ensureSchema } from './schema.ts';
import { loadQueries } from './sql.ts';
import { PostgresSubscription } from './subscription.ts';
import { TopicRegistry } from './topics.ts';
import { LogWriter } from './writer.ts';

export type { PostgresTransportOptions, RetentionOptions, ErrorSource } from './options.ts';

export const postgresFeatures: TransportFeatures = {
  persistent: true,
  consumerGroups: true,
  orderedByKey: true,
  crossProcess: true,
};

export interface PostgresTransport extends Transport {
  /** Runs one retention sweep now (whatever the timer); resolves with the messages deleted. */
  deleteExpiredMessages(): Promise<number>;
}

/**
 * Creates the transport; nothing connects until first use, which also creates the schema.
 * Close it before ending a pool you passed in: pg-pool drops callers waiting for a connection
 * when it ends, so a fetch or heartbeat queued at that moment would never settle.
 */
export function createPostgresTransport(options: PostgresTransportOptions): PostgresTransport {
  return new PostgresLogTransport(options);
}

function logToStderr(error: Error, source: ErrorSource): void {
  // Handler failures are redelivered and belong to the consumer's own logs and metrics.
  if (source === 'handler') return;
  process.stderr.write(`kitsune postgres transport: ${source}: ${error.message}\n`);
}

function unavailable(what: string, error: unknown): KitsuneError {
  if (error instanceof KitsuneError) return error;
  return new KitsuneError(ErrorCodes.UNAVAILABLE, `${what}: ${toError(error).message}`, { retryable: isTransient(error), cause: error });
}

function invalidOption(field: string, value: unknown): KitsuneError {
  return new KitsuneError(ErrorCodes.INVALID_CONFIG, `subscribe: ${field} is invalid: ${String(value)}`, { retryable: false });
}

class PostgresLogTransport implements PostgresTransport {
  readonly name = 'postgres';
  readonly features = postgresFeatures;
  readonly #context: LogContext;
  readonly #ownsPool: boolean;
  readonly #onPoolError: (error: Error) => void;
  readonly #topics: TopicRegistry;
  readonly #writer: LogWriter;
  readonly #publisher: PostgresPublisher;
  readonly #listener: NotificationListener;
  readonly #retention: RetentionSweeper;
  readonly #subscriptions = new Set<PostgresSubscription>();
  readonly #publishing = new Set<Promise<void>>();
  #ready: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: PostgresTransportOptions) {
    const settings = resolveSettings(options);
    const pool =
      options.pool ??
      new pg.Pool({ connectionString: options.connectionString, connectionTimeoutMillis: defaults.connectionTimeoutMs, application_name: 'kitsune' });
    this.#ownsPool = !options.pool;
    const onError = options.onError ?? logToStderr;
    const report = (error: unknown, source: ErrorSource): void => onError(toError(error), source);
    this.#context = { pool, sql: loadQueries(settings.schema), settings, channel: settings.schema, report };
    // An idle pooled connection that dies (server restart) emits 'error' on the pool; without a
    // listener that would crash the process. pg-pool drops the connection; we only report it.
    this.#onPoolError = (error) => report(error, 'pool');
    pool.on('error', this.#onPoolError);
    // Our own pool's clients are heard from birth, as createPool's are (inTransaction reports
    // those that fail in use); a pool passed in is its owner's to listen to.
    if (this.#ownsPool) hearClientErrors(pool);
    this.#topics = new TopicRegistry(this.#context);
    this.#writer = new LogWriter(this.#context);
    this.#publisher = new PostgresPublisher(this.#topics, this.#writer);
    this.#listener = new NotificationListener({
      clientConfig: pool.options,
      channel: this.#context.channel,
      listen: this.#context.sql.ChannelListen,
      onError: (error) => report(error, 'listener'),
      // The log's writers always send a payload (which topic has news).
      onNotification: (payload) => {
        if (payload) this.#route(payload);
      },
      onListening: () => {
        for (const subscription of this.#subscriptions) {
          subscription.wake();
          subscription.membershipChanged();
        }
      },
    });
    this.#retention = new RetentionSweeper(this.#context, settings.retention || defaults.retention);
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    if (this.#closed) throw transportClosed('ensureTopics');
    try {
      await this.#ensureReady();
      await this.#topics.ensure(topics);
    } catch (error) {
      throw unavailable('ensureTopics', error);
    }
  }

  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(transportClosed('publish'));
    const publishing = (async () => {
      try {
        await this.#ensureReady();
      } catch (error) {
        throw new KitsuneError(ErrorCodes.PUBLISH_FAILED, `publish to ${topic} failed`, { retryable: isTransient(error), cause: error });
      }
      await this.#publisher.publish(topic, messages);
    })();
    const tracked = publishing.catch(() => undefined);
    this.#publishing.add(tracked);
    void tracked.finally(() => this.#publishing.delete(tracked));
    return publishing;
  }

  subscribe(topic: string, handler: Handler, options: SubscribeOptions): Promise<Subscription> {
    return this.#subscribe(topic, { kind: 'message', handler }, options);
  }

  subscribeBatch(topic: string, handler: BatchHandler, options: SubscribeOptions): Promise<Subscription> {
    return this.#subscribe(topic, { kind: 'batch', handler }, options);
  }

  async consumerLag(queries: readonly LagQuery[]): Promise<PartitionLag[]> {
    if (this.#closed) throw transportClosed('consumerLag');
    try {
      await this.#ensureReady();
      return await readConsumerLag(this.#context, queries);
    } catch (error) {
      throw unavailable('consumerLag', error);
    }
  }

  async deleteExpiredMessages(): Promise<number> {
    if (this.#closed) throw transportClosed('deleteExpiredMessages');
    await this.#ensureReady();
    return this.#retention.sweep();
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
      await Promise.all(this.#publishing);
      await this.#writer.idle();
      await this.#retention.stop();
      await this.#listener.close();
      if (this.#ownsPool) await this.#context.pool.end();
      // Removed last, so an idle connection dying during shutdown is still handled.
      this.#context.pool.off('error', this.#onPoolError);
    })();
    return this.#closing;
  }

  async #subscribe(topic: string, delivery: Delivery, options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw transportClosed('subscribe');
    const maxBatchSize = options.maxBatchSize ?? defaults.maxBatchSize;
    const redeliveryDelayMs = options.redeliveryDelayMs ?? defaults.redeliveryDelayMs;
    if (typeof options.group !== 'string' || options.group.length === 0) throw invalidOption('group', options.group);
    if (!Number.isSafeInteger(maxBatchSize) || maxBatchSize < 1) throw invalidOption('maxBatchSize', maxBatchSize);
    if (!Number.isFinite(redeliveryDelayMs) || redeliveryDelayMs < 0) throw invalidOption('redeliveryDelayMs', redeliveryDelayMs);
    let partitions: number;
    try {
      await this.#ensureReady();
      partitions = await this.#topics.partitions(topic);
    } catch (error) {
      throw unavailable(`subscribe to ${topic}`, error);
    }
    if (this.#closed) throw transportClosed('subscribe');
    const subscription: PostgresSubscription = new PostgresSubscription(this.#context, {
      topic,
      group: options.group,
      partitions,
      delivery,
      maxBatchSize,
      redeliveryDelayMs,
      onClosed: () => this.#subscriptions.delete(subscription),
    });
    this.#subscriptions.add(subscription);
    this.#listener.start();
    try {
      await subscription.start();
    } catch (error) {
      await subscription.close();
      throw unavailable(`subscribe to ${topic}`, error);
    }
    if (this.#closed) throw transportClosed('subscribe');
    return subscription;
  }

  #ensureReady(): Promise<void> {
    this.#ready ??= ensureSchema(this.#context).then(
      () => {
        if (this.#context.settings.retention && !this.#closed) this.#retention.start();
      },
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready;
  }

  #route(payload: string): void {
    const notice = decodeNotice(payload);
    if (!notice) return;
    for (const subscription of this.#subscriptions) {
      if (subscription.topic !== notice.topic) continue;
      if (notice.kind === 'messages') subscription.wake();
      else if (subscription.group === notice.group) subscription.membershipChanged();
    }
  }
}
