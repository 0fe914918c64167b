/**
 * Event ids the API issues, keyed by a secret of the installation (HMAC-SHA-256), so that nobody
 * outside can compute or forge one, and the API can tell from an id alone which source it was
 * issued to: a key reads its own source's events and no other's, and an id of another source reads
 * exactly like one that never existed (404), so existence does not leak.
 *
 * Every event has an idempotency key (the caller's, or a UUIDv7 the API generates), and its id is
 * an RFC 9562 UUIDv8 (custom layout) of 12 bytes of body and a 4-byte tag:
 * - body: HMAC(secret, source, key), so a client's retry gets the same id, two sources may use the
 *   same key without colliding, and without the secret the id cannot be computed;
 * - tag: 32 bits of HMAC(secret, body, source), which `issuedTo` recomputes. It only has to stop a
 *   key from reading an id of another source that it learned: one chance in 2^32 per id.
 * Cost: two HMAC-SHA-256 per event, about two microseconds.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The shortest secret accepted: 256 bits. */
export const minSecretBytes = 32;

const hex = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

function format(bytes: Buffer): string {
  const text = bytes.toString('hex');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20, 32)}`;
}

export class EventIds {
  readonly #secret: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < minSecretBytes) throw new RangeError(`an event id secret needs at least ${minSecretBytes} bytes (got ${secret.length})`);
    this.#secret = Buffer.from(secret);
  }

  /** The id of (source, key): the same on every retry, with every API replica of this installation. */
  idempotent(source: string, key: string): string {
    // NUL separates the parts, which the key and source patterns never contain: ("a", "bc") ≠ ("ab", "c").
    return this.#withTag(this.#mac(`key\u0000${source}\u0000${key}`), source);
  }

  /** Whether `id` was issued to `source` by an installation with this secret. */
  issuedTo(id: string, source: string): boolean {
    if (!hex.test(id)) return false;
    const bytes = Buffer.from(id.replaceAll('-', ''), 'hex');
    const expected = Buffer.from(this.#withTag(bytes, source).replaceAll('-', ''), 'hex');
    return timingSafeEqual(bytes, expected);
  }

  #mac(text: string, extra?: Buffer): Buffer {
    const hmac = createHmac('sha256', this.#secret);
    if (extra) hmac.update(extra);
    return hmac.update(text, 'utf8').digest();
  }

  /** The id of the first 12 bytes of `body` (version and variant bits set), with its tag. */
  #withTag(body: Buffer, source: string): string {
    const bytes = Buffer.alloc(16);
    body.copy(bytes, 0, 0, 12);
    bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8
    bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
    this.#mac(`tag\u0000${source}`, bytes.subarray(0, 12)).copy(bytes, 12, 0, 4);
    return format(bytes);
  }
}
