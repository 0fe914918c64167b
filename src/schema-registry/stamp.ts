/**
 * The API's side: every db-events record names the schema id of its command version, in the
 * `kitsune-schema-id` header and, with the `confluent` wire format, in the value's framing too
 * (events/wire-format.ts). The ids come from boot registration, so stamping is a map lookup.
 */
import type { SchemaRegistryConfig } from '../config/index.ts';
import { frame, schemaIdHeader } from '../events/wire-format.ts';
import type { OutgoingMessage } from '../transport/types.ts';
import type { Registration } from './register.ts';

/** The record with its schema id; unchanged for a command version the registration does not know. */
export type DbRecordStamp = (record: OutgoingMessage, command: string, version: string) => OutgoingMessage;

export function createDbRecordStamp(registration: Registration, wireFormat: SchemaRegistryConfig['wireFormat']): DbRecordStamp {
  // By command, then version: no key string to build per record.
  const ids = new Map<string, Map<string, { id: number; header: string }>>();
  for (const schema of registration.schemas.values()) {
    const versions = ids.get(schema.command) ?? new Map<string, { id: number; header: string }>();
    versions.set(schema.version, { id: schema.id, header: String(schema.id) });
    ids.set(schema.command, versions);
  }
  return (record, command, version) => {
    const schema = ids.get(command)?.get(version);
    if (schema === undefined) return record;
    return {
      ...record,
      value: wireFormat === 'confluent' ? frame(schema.id, record.value) : record.value,
      headers: { ...record.headers, [schemaIdHeader]: schema.header },
    };
  };
}
