/**
 * The dead-letter record of a message that can never succeed, so one bad event does not block its
 * partition and is never lost: the original bytes travel with the reason. The workers publish it
 * to `<topic>.dlq`; `kitsune dlq` reads these headers.
 */
import { storable, truncate } from '../events/text.ts';
import { reservedHeaders, type OutgoingMessage, type ReceivedMessage } from './types.ts';

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

/**
 * The dead letter of `message`: same id, key and bytes, its headers plus the dlq ones. Everything
 * from the message is escaped (decision 0018): the DLQ must take any record any producer wrote.
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
