/**
 * Event ids. Without an idempotency key an event gets a fresh UUIDv7 (time-ordered, so the
 * idempotency and result tables stay append-mostly in their B-trees). With one, the id is a
 * UUIDv5 of (source, key): a client's retry gets the same id, and two sources may use the same
 * key without colliding.
 */
import { createHash } from 'node:crypto';
import { randomBytesPooled } from './random.ts';

/** Kitsune's UUIDv5 namespace (a fixed, random UUID). */
const namespace = Buffer.from('6f1c2d7e9a4b4c1d8e3f5a6b7c8d9e0f', 'hex');

function format(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** RFC 9562 UUIDv5 of `source` and `key`, separated by a NUL so ("a", "bc") ≠ ("ab", "c"). */
export function idempotentEventId(source: string, key: string): string {
  const hash = createHash('sha1').update(namespace).update(`${source}\u0000${key}`, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return format(bytes);
}

/** RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then random bits. */
export function newEventId(now: number = Date.now()): string {
  const bytes = randomBytesPooled(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return format(bytes);
}
