/**
 * createLogWorker(deps): consumes app-logs in polled batches and puts each record's line in the
 * sink. A batch is acknowledged (its offsets committed) only when every line in it was stored by
 * the sink or dead-lettered with its reason; anything else throws, and the whole batch is
 * redelivered, which the sinks absorb (identical Loki entries, unique event id in PostgreSQL).
 */
import type { Logger } from 'pino';
import { backoffMs, wait, type BackoffPolicy } from '../../backoff.ts';
import { ErrorCodes, KitsuneError, toError } from '../../errors.ts';
import { deadLetterMessage } from '../../transport/dead-letter.ts';
import type { Publisher, ReceivedMessage, Subscriber, Subscription } from '../../transport/types.ts';
import { logLineOf, type LogLine } from './log-line.ts';
import { LogWorkerMetrics, type LogWorkerCounters } from './metrics.ts';
import { startProcessSpans } from '../../observability/consumer-tracing.ts';
import { DeadLetterReasons, type DeadLetterReason, type LogSink } from './sink.ts';

export interface LogWorkerDeps {
  subscriber: Subscriber;
  /** Where dead letters are published; usually the transport that delivers app-logs. */
  publisher: Publisher;
  /** Closed by stop(). */
  sink: LogSink;
  /** The app-logs topic. */
  topic: string;
  /** (Default: `${topic}.dlq`) */
  dlqTopic?: string;
  /** messaging.system of the process spans: the transport's name. (Default: 'kafka') */
  messagingSystem?: string;
  /** Consumer group, e.g. `kitsune.log-worker`. */
  group: string;
  /**
   * Records per partition per polled batch. Larger than the transport's default: the handler
   * holds its partition for a Loki round trip per batch, so bigger batches mean fewer round trips
   * (measured with bench/log-worker.ts: 500 → ~13k lines/s, 2000 → ~18k). (Default: 2000)
   */
  maxBatchSize?: number;
  /** How long stop() lets writes in flight finish before aborting them (they are then redelivered). (Default: 10_000 ms) */
  shutdownGraceMs?: number;
  /** (Default: in-process counters only) */
  metrics?: LogWorkerMetrics;
  logger?: Logger;
  /** Clock for the DLQ's failed-at header. (Default: Date.now) */
  now?: () => number;
}

export interface LogWorker {
  /** Joins the consumer group and starts consuming. */
  start(): Promise<void>;
  /**
   * Stops fetching, lets writes in flight finish (up to shutdownGraceMs), commits what was
   * acknowledged, leaves the group and closes the sink. Safe before start() and twice.
   */
  stop(): Promise<void>;
  counters(): LogWorkerCounters;
}

const defaults = {
  maxBatchSize: 2_000,
  shutdownGraceMs: 10_000,
  now: Date.now,
} as const satisfies Required<Pick<LogWorkerDeps, 'maxBatchSize' | 'shutdownGraceMs' | 'now'>>;

interface Letter {
  message: ReceivedMessage;
  error: Error;
  reason: DeadLetterReason;
}

/** Between redeliveries of a batch that failed as a whole. */
const retryBackoff: BackoffPolicy = { baseMs: 100, maxMs: 5_000 };

/** The start of the log line of a failed batch: it names the system at fault. */
function deadLetterFailure(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === ErrorCodes.PUBLISH_FAILED ? 'the dead-letter topic did not accept the batch\'s dead letters' : `storing the log lines failed (${toError(error).message})`;
}

export function createLogWorker(deps: LogWorkerDeps): LogWorker {
  const { subscriber, publisher, sink, topic, group, logger } = deps;
  const dlqTopic = deps.dlqTopic ?? `${topic}.dlq`;
  const now = deps.now ?? defaults.now;
  const metrics = deps.metrics ?? new LogWorkerMetrics();
  const maxBatchSize = deps.maxBatchSize ?? defaults.maxBatchSize;
  let subscription: Subscription | undefined;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  /** Batch handlers waiting on the sink right now. */
  let writing = 0;

  /**
   * Whether to push now rather than let the sink wait for its batch to fill. The handler blocks
   * until the sink answers (offsets are committed after it), so waiting only pays when more lines
   * can join meanwhile. A full polled batch means a backlog: the batch is big already, and waiting
   * would cap the worker at maxBatchSize lines per batch wait. When every partition this member
   * owns is waiting on the sink, nothing more can arrive. Otherwise (a trickle) lines wait up to
   * the batch wait, so a quiet stream is pushed about once per wait instead of once per record.
   */
  const pushNow = (batchSize: number): boolean => {
    if (batchSize >= maxBatchSize) return true;
    const owned = subscription?.assignedPartitions().length ?? 0;
    return owned > 0 && writing >= owned;
  };

  const write = async (lines: readonly LogLine[], batchSize: number): Promise<Awaited<ReturnType<LogSink['write']>>> => {
    if (lines.length === 0) return [];
    writing += 1;
    try {
      const written = sink.write(lines);
      if (pushNow(batchSize)) sink.flush();
      return await written;
    } finally {
      writing -= 1;
    }
  };

  const deadLetter = async (letters: readonly Letter[]): Promise<void> => {
    const failedAt = now();
    try {
      await publisher.publish(
        dlqTopic,
        letters.map(({ message, error }) => deadLetterMessage(message, error, failedAt)),
      );
    } catch (error) {
      // Not acknowledged: the batch comes back, and the lines already stored are absorbed.
      throw new KitsuneError(ErrorCodes.PUBLISH_FAILED, `dead-lettering ${letters.length} log records to ${dlqTopic} failed`, {
        retryable: true,
        cause: error,
      });
    }
    for (const { message, error, reason } of letters) {
      metrics.deadLettered(reason);
      logger?.warn({ eventId: message.id, partition: message.partition, offset: message.offset.toString(), reason, err: error }, 'log line dead-lettered');
    }
  };

  /** Consecutive failed batches per partition, for the backoff before the redelivery. */
  const failures = new Map<number, number>();
  const abort = new AbortController();

  /** A process span per record while tracing is on; its Loki push span links to them. */
  const handle = async (messages: readonly ReceivedMessage[]): Promise<void> => {
    const partition = messages[0]?.partition ?? 0;
    const traced = startProcessSpans(messages, { group, system: deps.messagingSystem ?? 'kafka' });
    try {
      await (traced ? traced.run(() => store(messages)) : store(messages));
      traced?.end();
      failures.delete(partition);
    } catch (error) {
      traced?.end(error);
      // The sinks retry their own store; what reaches here is a dead letter the DLQ's broker did
      // not take, or a sink closed by stop(). Kitsune's backoff (src/backoff.ts) before the redelivery.
      const failed = (failures.get(partition) ?? 0) + 1;
      failures.set(partition, failed);
      const delayMs = backoffMs(failed, retryBackoff);
      if (!stopping) logger?.warn({ err: error, partition, records: messages.length, failures: failed, delayMs }, `${deadLetterFailure(error)}; the batch is retried in ${delayMs} ms`);
      await wait(delayMs, abort.signal);
      throw error;
    }
  };

  const store = async (messages: readonly ReceivedMessage[]): Promise<void> => {
    metrics.received(messages.length);
    const lines: LogLine[] = [];
    const origins: ReceivedMessage[] = [];
    const letters: Letter[] = [];
    for (const message of messages) {
      try {
        lines.push(logLineOf(message));
        origins.push(message);
      } catch (thrown) {
        letters.push({ message, error: toError(thrown), reason: DeadLetterReasons.malformedEvent });
      }
    }
    // `lines` is not used past the write, so its lines can be collected while the push is out.
    const count = lines.length;
    const rejections = await write(lines, messages.length);
    for (const { index, error, reason } of rejections) letters.push({ message: origins[index]!, error, reason });
    if (letters.length > 0) await deadLetter(letters);
    metrics.delivered(sink.name, count - rejections.length);
  };

  return {
    start(): Promise<void> {
      if (stopping) return Promise.reject(new KitsuneError(ErrorCodes.TRANSPORT_CLOSED, 'the log worker was stopped', { retryable: false }));
      starting ??= (async () => {
        // Lines wait up to a second for their Loki batch anyway; longer fetches cost less CPU.
        subscription = await subscriber.subscribeBatch(topic, handle, { group, maxBatchSize, maxFetchWaitMs: 250 });
        logger?.info({ topic, group, sink: sink.name, partitions: subscription.assignedPartitions() }, 'log worker consuming');
      })();
      return starting;
    },

    stop(): Promise<void> {
      stopping ??= (async () => {
        abort.abort();
        // A start() in progress finishes first, so its subscription is closed, not leaked.
        await starting?.catch(() => undefined);
        const current = subscription;
        if (current) {
          current.pause();
          sink.flush();
          const closed = current.close();
          if (!(await settlesWithin(closed, deps.shutdownGraceMs ?? defaults.shutdownGraceMs))) {
            logger?.warn('log worker: writes still in flight at the shutdown deadline; aborting them (they will be redelivered)');
          }
          // Aborting releases handlers still waiting, so close() can finish without committing them.
          await sink.close();
          await closed;
        } else {
          await sink.close();
        }
      })();
      return stopping;
    },

    counters: () => metrics.snapshot(),
  };
}

/** True if `promise` settled within `ms`. Its rejection, if any, is left to its other awaiters. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
