/**
 * How large a record Kitsune's topics take, derived from the largest request body the API accepts,
 * so that a body the API accepts always makes records the broker accepts. The event is larger than
 * the body it came from: the API adds the id, timestamp, source and idempotency key (a key sent as
 * a header, up to Node's 16 KiB of headers), the record's headers (trace context, id, command,
 * version, schema id) and Kafka's framing (about 100 bytes for a batch of one record). Re-encoding
 * the body can grow it too (`1e20` is written `100000000000000000000`); an event over the limit
 * anyway is refused by the API with 413 before anything is published.
 */
import type { OutgoingMessage } from './types.ts';

/** What an event and its record may add to the body it came from. */
export const envelopeHeadroomBytes = 64 * 1024;

/** What a dead letter adds to the record it carries: the reason (≤ 1,000 characters, escaped) and the dlq headers. */
export const deadLetterHeadroomBytes = 64 * 1024;

/**
 * The broker's default `message.max.bytes` (1 MiB + 12). Kitsune's producer coalesces records into
 * batches of up to 900 KiB, so a topic never takes less than this, however small the body limit.
 */
const brokerDefaultMessageBytes = 1_048_588;

/** `max.message.bytes` of db-events, app-logs and db-results: the largest record the API may publish. */
export const recordLimitBytes = (bodyLimitBytes: number): number => Math.max(bodyLimitBytes, brokerDefaultMessageBytes) + envelopeHeadroomBytes;

/** `max.message.bytes` of a dead-letter topic: a dead letter of the largest record still fits. */
export const deadLetterLimitBytes = (bodyLimitBytes: number): number => recordLimitBytes(bodyLimitBytes) + deadLetterHeadroomBytes;

/** Bytes a record takes on the broker (the id header included), near enough to compare with a limit that has headroom. */
export function recordBytes(record: OutgoingMessage): number {
  let bytes = record.value.length + Buffer.byteLength(record.key ?? '') + Buffer.byteLength(record.id) + 120;
  for (const [name, value] of Object.entries(record.headers ?? {})) bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 10;
  return bytes;
}
