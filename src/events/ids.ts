/**
 * UUIDv7 ids for events Kitsune did not issue through its API (test and benchmark producers
 * writing to the topics directly). The API issues keyed ids instead: see event-ids.ts.
 */
import { randomBytesPooled } from './random.ts';

function format(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then random bits. */
export function newEventId(now: number = Date.now()): string {
  const bytes = randomBytesPooled(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return format(bytes);
}
