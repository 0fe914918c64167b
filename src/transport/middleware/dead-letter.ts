/**
 * Moves messages that can never succeed to a dead-letter topic, so one bad event does not block
 * its partition forever and is never lost: the original bytes travel with the reason.
 *
 * Only permanent (non-retryable) errors are dead-lettered. Transient ones are rethrown for retry,
 * the breaker and redelivery; a database outage must never fill the DLQ.
 */
import { ErrorCodes, KitsuneError, isRetryable, toError } from '../../errors.ts';
import { storable, truncate } from '../../events/text.ts';
import { reservedHeaders } from '../types.ts';
import type { Middleware, OutgoingMessage, Publisher, ReceivedMessage } from '../types.ts';
import { runHook } from './support.ts';

/** Headers added to a dead letter. Read by `kitsune dlq` (inspect, replay); rename only with it. */
export const dlqHeaders = {
  /** The error message, at most `dlqReasonMaxLength` characters. */
  reason: 'kitsune-dlq-reason',
  /** The error's `code` (a KitsuneError code, or a library's own), when it has one. */
  code: 'kitsune-dlq-code',
  /** PostgreSQL SQLSTATE, when the error carries `sqlstate`. */
  sqlstate: 'kitsune-dlq-sqlstate',
  /** Tries made (decimal): `message.attempt`, or the error's own `attempts` when higher. */
  attempts: 'kitsune-dlq-attempts',
  sourceTopic: 'kitsune-dlq-source-topic',
  sourcePartition: 'kitsune-dlq-source-partition',
  /** Decimal offset of the original in its source partition. */
  sourceOffset: 'kitsune-dlq-source-offset',
  /** ISO 8601 time of the failure. */
  failedAt: 'kitsune-dlq-failed-at',
} as const;

/** Longer reasons are cut: a stack-sized message would bloat every record header. */
export const dlqReasonMaxLength = 1000;

/** What onDeadLetter is told once the DLQ accepted a message. */
export interface DeadLetterInfo {
  message: ReceivedMessage;
  error: Error;
  dlqTopic: string;
}

export interface DeadLetterOptions {
  /** Where dead letters are published; usually the transport that delivered the message. */
  publisher: Publisher;
  /** Names the dead-letter topic of a source topic. (Default: `${topic}.dlq`) */
  topicFor?: (topic: string) => string;
  /** Called after the DLQ accepted the message, for logs and metrics; must not throw. (Default: none) */
  onDeadLetter?: (info: DeadLetterInfo) => void;
  /** Clock for the failed-at header, in ms since the epoch. (Default: Date.now) */
  now?: () => number;
}

const defaults = {
  topicFor: (topic: string) => `${topic}.dlq`,
  now: Date.now,
} as const satisfies Required<Pick<DeadLetterOptions, 'topicFor' | 'now'>>;

/**
 * Publishes a message whose handler failed permanently to its DLQ, then resolves so the original
 * is acknowledged. If the DLQ does not accept it, throws a retryable PUBLISH_FAILED error so the
 * original is redelivered instead of lost. Retryable errors are rethrown untouched.
 */
export function deadLetter(options: DeadLetterOptions): Middleware {
  const { publisher, onDeadLetter } = options;
  const topicFor = options.topicFor ?? defaults.topicFor;
  const now = options.now ?? defaults.now;

  return (next) => async (message) => {
    try {
      await next(message);
      return;
    } catch (thrown) {
      if (isRetryable(thrown)) throw thrown;
      const error = toError(thrown);
      const dlqTopic = topicFor(message.topic);
      try {
        await publisher.publish(dlqTopic, [deadLetterMessage(message, error, now())]);
      } catch (publishError) {
        throw new KitsuneError(
          ErrorCodes.PUBLISH_FAILED,
          `dead-lettering message ${message.id} to ${dlqTopic} failed (original error: ${truncate(error.message, 200)})`,
          { retryable: true, cause: publishError },
        );
      }
      if (onDeadLetter) runHook('onDeadLetter', () => onDeadLetter({ message, error, dlqTopic }));
    }
  };
}

/**
 * The dead letter of `message`: same id, key and bytes, its headers plus the dlq ones. Exported
 * for batch consumers, which cannot use middleware and dead-letter events one by one.
 */
export function deadLetterMessage(message: ReceivedMessage, error: Error, failedAtMs: number): OutgoingMessage {
  // Null prototype: header names come from the wire and may be anything, `__proto__` included.
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  const dlqNames = new Set<string>(Object.values(dlqHeaders));
  for (const [name, value] of Object.entries(message.headers)) {
    // The id header is the transport's to write (from `id`); dlq headers of an earlier round,
    // after a replay that failed again, would otherwise survive next to the new ones.
    // Escaped: a record from any producer may carry what the DLQ's transport cannot (U+0000 in
    // the Postgres log), and a dead letter must always be writable.
    if (name !== reservedHeaders.id && !dlqNames.has(name)) headers[storable(name)] = storable(value);
  }
  const details = error as { code?: unknown; sqlstate?: unknown; attempts?: unknown };
  headers[dlqHeaders.reason] = storable(truncate(error.message === '' ? error.name : error.message, dlqReasonMaxLength));
  if (typeof details.code === 'string' || typeof details.code === 'number') headers[dlqHeaders.code] = storable(String(details.code));
  if (typeof details.sqlstate === 'string') headers[dlqHeaders.sqlstate] = storable(details.sqlstate);
  const attempts =
    typeof details.attempts === 'number' && Number.isFinite(details.attempts)
      ? Math.max(message.attempt, details.attempts)
      : message.attempt;
  headers[dlqHeaders.attempts] = String(attempts);
  headers[dlqHeaders.sourceTopic] = message.topic;
  headers[dlqHeaders.sourcePartition] = String(message.partition);
  headers[dlqHeaders.sourceOffset] = message.offset.toString();
  headers[dlqHeaders.failedAt] = new Date(failedAtMs).toISOString();
  return { id: storable(message.id), key: message.key === undefined ? undefined : storable(message.key), value: message.value, headers };
}
