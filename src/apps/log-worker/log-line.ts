/**
 * The log part of an app-logs record, as every sink stores it. Everything here comes from the
 * record itself, never from the clock or the consumer, so a redelivered record becomes exactly
 * the same line again: that is what lets Loki (identical entries) and PostgreSQL (unique event
 * id) absorb redelivery.
 */
import { ErrorCodes, KitsuneError } from '../../errors.ts';
import { decodeEvent, eventHeaders, type LogLevel } from '../../events/envelope.ts';
import { quoted } from '../../events/text.ts';
import { parseTraceparent } from '../../observability/trace-context.ts';
import type { ReceivedMessage } from '../../transport/types.ts';

export interface LogLine {
  eventId: string;
  /** The event's metadata.timestamp (when the API accepted it), in ms since the epoch. */
  timestampMs: number;
  level: LogLevel;
  command: string;
  version: string;
  source: string;
  message: string;
  idempotencyKey: string;
  /** From the record's `traceparent` header, when it has a valid one. */
  traceId: string | undefined;
  /** The span that sent the record (the API's producer span), from the same header. */
  spanId?: string | undefined;
}

/** `2026-01-31T12:00:00Z`, with optional fractions and an offset instead of Z (what the API writes, and RFC 3339). */
const isoTimestamp = /^[+-]?\d{4,6}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Reads one app-logs record. Throws a non-retryable INVALID_MESSAGE error naming the problem
 * (the record is then dead-lettered with it).
 */
export function logLineOf(message: ReceivedMessage): LogLine {
  const event = decodeEvent(message.value);
  // ISO 8601 only: Date.parse alone reads almost anything ('not a date 7' is July 2001).
  const timestampMs = isoTimestamp.test(event.metadata.timestamp) ? Date.parse(event.metadata.timestamp) : Number.NaN;
  if (!Number.isFinite(timestampMs)) {
    throw new KitsuneError(ErrorCodes.INVALID_MESSAGE, `malformed event: metadata.timestamp is not an ISO 8601 date and time: ${quoted(event.metadata.timestamp)}`, {
      retryable: false,
    });
  }
  const parent = parseTraceparent(message.headers[eventHeaders.traceparent]);
  return {
    eventId: event.id,
    timestampMs,
    level: event.log.level,
    command: event.command,
    version: event.version,
    source: event.metadata.source,
    message: event.log.message,
    idempotencyKey: event.metadata.idempotency_key,
    traceId: parent?.traceId,
    spanId: parent?.spanId,
  };
}
