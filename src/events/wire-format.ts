/**
 * How a db-events record names the schema of its value, when a schema registry is configured.
 *
 * - Header (the default): the value stays plain JSON, so `kcat` and any JSON consumer read it as
 *   before, and the `kitsune-schema-id` header holds the registry's schema id in decimal.
 * - Confluent's wire format (an option): the value is the magic byte 0, the schema id as a 4-byte
 *   big-endian integer, then the JSON. Confluent's deserializers expect this framing.
 *
 * JSON text never starts with a 0 byte, so a reader tells the two apart from the first byte.
 */

/** The header carrying the schema id of a db-events record's value. */
export const schemaIdHeader = 'kitsune-schema-id';

const magicByte = 0;
const prefixBytes = 5;

/** Confluent framing: magic byte, schema id (big-endian uint32), then the JSON bytes. */
export function frame(schemaId: number, json: Buffer): Buffer {
  const prefix = Buffer.allocUnsafe(prefixBytes);
  prefix.writeUInt8(magicByte, 0);
  prefix.writeUInt32BE(schemaId, 1);
  return Buffer.concat([prefix, json]);
}

/** The schema id and JSON of a Confluent-framed value, or undefined for a plain one. */
export function unframe(value: Buffer): { schemaId: number; json: Buffer } | undefined {
  if (value.length < prefixBytes || value[0] !== magicByte) return undefined;
  return { schemaId: value.readUInt32BE(1), json: value.subarray(prefixBytes) };
}

/**
 * The schema id a record names: its framing's, else its header's. Undefined when it names none;
 * NaN when the header is not a schema id (a positive decimal integer).
 */
export function schemaIdOf(value: Buffer, headers: Readonly<Record<string, string>>): number | undefined {
  const framed = unframe(value);
  if (framed) return framed.schemaId;
  const header = headers[schemaIdHeader];
  if (header === undefined) return undefined;
  return /^[1-9][0-9]{0,9}$/.test(header) ? Number(header) : Number.NaN;
}
