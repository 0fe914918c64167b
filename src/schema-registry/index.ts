/**
 * Command schemas in a Confluent-compatible schema registry (KITSUNE_SCHEMA_REGISTRY_URL): boot
 * registration with evolution rules (register.ts), the schema id on every db-events record
 * (stamp.ts), and the DB worker's check of consumed events by schema id (event-check.ts).
 * Without the variable none of this runs, and the YAML is the only registry.
 */
import type { Registry } from '../commands/index.ts';
import type { SchemaRegistryConfig } from '../config/index.ts';
import { createSchemaRegistryClient, type SchemaRegistryClient } from './client.ts';
import { createEventSchemaCheck, type EventSchemaCheck } from './event-check.ts';
import { registerCommandSchemas, type Registration } from './register.ts';
import { createDbRecordStamp, type DbRecordStamp } from './stamp.ts';

export { createSchemaRegistryClient, SchemaRegistryError, type SchemaRegistryClient } from './client.ts';
export { canonicalJson, eventSchema, subjectOf } from './event-schema.ts';
export { createEventSchemaCheck, type EventRejection, type EventSchemaCheck } from './event-check.ts';
export { defaultCompatibility, registerCommandSchemas, SchemaRefusedError, type Registration } from './register.ts';
export type { DbRecordStamp } from './stamp.ts';

export interface SchemaRegistryRuntime {
  client: SchemaRegistryClient;
  registration: Registration;
  /** Names a db-events record's schema (API). */
  stamp: DbRecordStamp;
  /** Checks consumed db-events records against the schemas they name (DB worker). */
  check: EventSchemaCheck;
}

/** Registers the registry's schemas under `<dbEventsTopic>-<command>`; throws SchemaRefusedError. */
export async function openSchemaRegistry(config: SchemaRegistryConfig, registry: Registry, dbEventsTopic: string): Promise<SchemaRegistryRuntime> {
  const client = createSchemaRegistryClient(config);
  const registration = await registerCommandSchemas(registry, client, dbEventsTopic);
  return {
    client,
    registration,
    stamp: createDbRecordStamp(registration, config.wireFormat),
    check: createEventSchemaCheck(client, registration),
  };
}
