/**
 * The DB worker's schema check: a record that names a schema id (header or Confluent framing, see
 * events/wire-format.ts) is validated, whole, against the schema the registry holds under that id,
 * and that schema must be the one of the event's command and version. Events come from producers
 * other than the API too (kcat, other services), so neither is taken on trust.
 *
 * A record that breaks its schema, names an id the registry does not have, or names another
 * version's schema is rejected with the reason, for the dead-letter topic. A record naming no id
 * is left to the worker's own check against the YAML (the same schema, registered at boot).
 *
 * Costs: a schema is fetched and compiled once per id, then cached for the life of the process
 * (ids are immutable in a registry); the ids registered at boot are known without a fetch.
 * Fetches for one batch run in parallel, one per id, and a registry that cannot answer fails the
 * check with a retryable error, so the batch is retried, never dead-lettered.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ErrorCodes, toError } from '../errors.ts';
import { schemaIdHeader, schemaIdOf, unframe } from '../events/wire-format.ts';
import type { ReceivedMessage } from '../transport/types.ts';
import type { SchemaRegistryClient } from './client.ts';
import { canonicalJson } from './event-schema.ts';
import { schemaKey, type Registration } from './register.ts';

export interface EventRejection {
  reason: string;
  code: string;
}

/** Resolves with the batch's records that fail their schema, and why; rejects (retryable) when the registry cannot answer. */
export type EventSchemaCheck = (batch: readonly ReceivedMessage[]) => Promise<ReadonlyMap<ReceivedMessage, EventRejection>>;

interface KnownSchema {
  canonical: string;
  /** Compiled on first use; a schema Ajv cannot compile rejects the records naming it. */
  validate: ValidateFunction | Error | undefined;
  parsed: unknown;
}

const reject = (reason: string): EventRejection => ({ reason, code: ErrorCodes.INVALID_MESSAGE });

export function createEventSchemaCheck(client: SchemaRegistryClient, registration: Registration): EventSchemaCheck {
  // Schemas from the registry may be any draft and carry keywords Kitsune does not know: not strict.
  const ajv = new Ajv2020({ allErrors: true, strict: false, allowUnionTypes: true, validateSchema: false });
  addFormats.default(ajv);
  const known = new Map<number, KnownSchema>();
  const fetching = new Map<number, Promise<void>>();
  for (const schema of registration.schemas.values()) {
    const parsed: unknown = JSON.parse(schema.text);
    known.set(schema.id, { canonical: canonicalJson(parsed), validate: undefined, parsed });
  }

  const load = (id: number): Promise<void> => {
    let pending = fetching.get(id);
    if (!pending) {
      pending = client
        .schemaById(id)
        .then((text) => {
          // An id the registry does not have is not cached: it may be restored from a backup.
          if (text === undefined) return;
          const parsed: unknown = JSON.parse(text);
          known.set(id, { canonical: canonicalJson(parsed), validate: undefined, parsed });
        })
        .finally(() => fetching.delete(id));
      fetching.set(id, pending);
    }
    return pending;
  };

  const validatorOf = (schema: KnownSchema): ValidateFunction | Error => {
    if (schema.validate === undefined) {
      try {
        schema.validate = ajv.compile(schema.parsed as object);
      } catch (error) {
        schema.validate = toError(error);
      }
    }
    return schema.validate;
  };

  const checkOne = (message: ReceivedMessage, id: number): EventRejection | undefined => {
    if (Number.isNaN(id)) return reject(`header ${schemaIdHeader} is not a schema id: '${message.headers[schemaIdHeader] ?? ''}'`);
    const schema = known.get(id);
    if (!schema) return reject(`schema id ${id} is not in the schema registry at ${client.url}`);
    let value: unknown;
    try {
      value = JSON.parse((unframe(message.value)?.json ?? message.value).toString('utf8'));
    } catch {
      return undefined; // not JSON: the worker's decoder dead-letters it with its own reason
    }
    // Another version's schema first: its validation errors would only be noise.
    const { command, version } = (value ?? {}) as { command?: unknown; version?: unknown };
    const expected = typeof command === 'string' && typeof version === 'string' ? registration.schemas.get(schemaKey(command, version)) : undefined;
    // Another id with the same schema (a registry rebuilt since boot) is the same contract.
    if (expected !== undefined && expected.id !== id && schema.canonical !== known.get(expected.id)?.canonical) {
      return reject(`names schema id ${id}, which is not the schema of ${String(command)} v${String(version)} (id ${expected.id} in ${expected.subject})`);
    }
    const validate = validatorOf(schema);
    if (validate instanceof Error) return reject(`schema id ${id} cannot be compiled: ${validate.message}`);
    if (validate(value)) return undefined;
    return reject(`does not match its schema (id ${id}): ${ajv.errorsText(validate.errors, { separator: '; ', dataVar: '' })}`);
  };

  return async (batch) => {
    const ids = batch.map((message) => schemaIdOf(message.value, message.headers));
    const missing = new Set(ids.filter((id): id is number => id !== undefined && !Number.isNaN(id) && !known.has(id)));
    if (missing.size > 0) await Promise.all([...missing].map(load));
    const rejections = new Map<ReceivedMessage, EventRejection>();
    batch.forEach((message, index) => {
      const id = ids[index];
      if (id === undefined) return;
      const rejection = checkOne(message, id);
      if (rejection) rejections.set(message, rejection);
    });
    return rejections;
  };
}
