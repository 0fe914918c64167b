/**
 * Key → partition exactly as the Java client's default partitioner does for keyed records
 * (`Utils.toPositive(Utils.murmur2(keyBytes)) % numPartitions`), so a Java, Go or librdkafka
 * producer using murmur2 and Kitsune agree on where an entity's events live. The Postgres log uses
 * the same function, so switching transports keeps an entity on the same partition number.
 */
const seed = 0x9747b28c;
const m = 0x5bd1e995;

/** Kafka's 32-bit murmur2, as a signed int (as Java returns it). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = seed ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) | 0;
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= data[whole + 2]! << 16;
  if (tail >= 2) h ^= data[whole + 1]! << 8;
  if (tail >= 1) h = Math.imul(h ^ data[whole]!, m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}
