/**
 * The HTTP contract as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1): the API's routes
 * declare these, the OpenAPI document is generated from them, and the server validates requests
 * with them. Each schema sits beside its TypeScript type in ./http.ts; the contract test checks
 * every answer the server gives against the document, so a drift between the two fails CI.
 */
import { LogLevels } from '../events/envelope.ts';
import { ApiErrorCodes } from './http.ts';

/** Components are referenced as `#/components/schemas/<name>`. */
export const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });

/** An event id: a UUID in its canonical text form (PostgreSQL's uuid type reads nothing looser). */
export const eventIdSchema = {
  type: 'string',
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
  description: 'An event id (UUID)',
  examples: ['0192f4c1-7a3e-8d10-9b2c-3f4a5b6c7d8e'],
};

/** The Idempotency-Key header and metadata.idempotency_key. */
export const idempotencyKeySchema = {
  type: 'string',
  pattern: '^[\\x21-\\x7e]{1,255}$',
  description: '1 to 255 visible ASCII characters. A retry with the same key (and source) gets the same event id.',
  examples: ['order-42'],
};

export const sourceSchema = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$',
  description: 'The calling service: 1 to 128 letters, digits and ._:/-, starting with a letter or digit. Ignored when API keys are on (the key names the source).',
  examples: ['user-service'],
};

/** Log levels, upper or lower case, as the API accepts them. */
export const logLevelNames: readonly string[] = [...LogLevels, ...LogLevels.map((level) => level.toLowerCase())];

export const errorSchema = {
  type: 'object',
  description: 'Every error answer, 4xx and 5xx alike',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { enum: Object.keys(ApiErrorCodes), description: 'Stable; branch on it, never on the message' },
        message: { type: 'string', description: 'For people' },
        field: { type: 'string', description: 'JSON Pointer of the first field at fault: into the body, or /<name> of a query or path parameter or header (see `in`)' },
        in: { enum: ['body', 'query', 'path', 'header'] },
        errors: {
          type: 'array',
          items: {
            type: 'object',
            required: ['field', 'message'],
            properties: { field: { type: 'string' }, message: { type: 'string' }, code: { enum: Object.keys(ApiErrorCodes) } },
          },
        },
        id: { ...eventIdSchema, description: 'broker_unavailable: the event that may have been written anyway' },
        idempotency_key: { type: 'string', description: 'broker_unavailable: retry with this key; it is the same event, applied at most once' },
        events: {
          type: 'array',
          description: 'broker_unavailable on a batch: each item\'s event and key',
          items: { type: 'object', required: ['index', 'id', 'idempotency_key'], properties: { index: { type: 'integer', minimum: 0 }, id: eventIdSchema, idempotency_key: { type: 'string' } } },
        },
      },
    },
  },
};

export const acceptedSchema = {
  type: 'object',
  required: ['id', 'status', 'idempotency_key', 'links'],
  properties: {
    id: eventIdSchema,
    status: { const: 'accepted' },
    idempotency_key: { type: 'string' },
    links: { type: 'object', required: ['self'], properties: { self: { type: 'string', examples: ['/events/0192f4c1-7a3e-8d10-9b2c-3f4a5b6c7d8e'] } } },
  },
};

export const batchAcceptedSchema = {
  type: 'object',
  required: ['accepted', 'rejected', 'results'],
  properties: {
    accepted: { type: 'integer', minimum: 0 },
    rejected: { type: 'integer', minimum: 0 },
    results: {
      type: 'array',
      description: 'One per command, in the order sent',
      items: {
        oneOf: [
          { allOf: [acceptedSchema, { type: 'object', required: ['index'], properties: { index: { type: 'integer', minimum: 0 } } }] },
          {
            type: 'object',
            required: ['index', 'status', 'error'],
            properties: { index: { type: 'integer', minimum: 0 }, status: { const: 'rejected' }, error: errorSchema.properties.error },
          },
        ],
      },
    },
  },
};

export const eventViewSchema = {
  type: 'object',
  required: ['id', 'status'],
  properties: {
    id: eventIdSchema,
    status: { enum: ['pending', 'succeeded', 'dead_lettered'], description: '`pending` until the DB worker stored an outcome' },
    command: { type: 'string' },
    version: { type: 'string' },
    source: { type: 'string' },
    idempotency_key: { type: 'string' },
    result: {
      oneOf: [
        { type: 'null' },
        { type: 'object', required: ['rows', 'rows_affected'], properties: { rows: { type: 'array', items: { type: 'object' } }, rows_affected: { type: 'integer' } } },
      ],
    },
    error: {
      oneOf: [
        { type: 'null' },
        { type: 'object', properties: { reason: { type: 'string' }, code: { type: 'string' }, sqlstate: { type: ['string', 'null'] } } },
      ],
    },
    attempts: { type: 'integer' },
    conflicts: { type: 'integer', description: 'Later deliveries with the same key and a different payload, recorded and not applied' },
    completed_at: { type: 'string', format: 'date-time' },
  },
};

export const logPageSchema = {
  type: 'object',
  required: ['logs', 'next_cursor'],
  properties: {
    logs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['event_id', 'timestamp', 'level', 'command', 'version', 'source', 'message', 'idempotency_key', 'trace_id'],
        properties: {
          event_id: { type: 'string' },
          timestamp: { type: 'string', format: 'date-time' },
          level: { type: 'string' },
          command: { type: 'string' },
          version: { type: 'string' },
          source: { type: 'string' },
          message: { type: 'string' },
          idempotency_key: { type: 'string' },
          trace_id: { type: ['string', 'null'] },
        },
      },
    },
    next_cursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next (older) page; null on the last page' },
  },
};

export const healthSchema = { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } };

export const readinessSchema = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { enum: ['ready', 'not_ready'] },
    checks: { type: 'object', additionalProperties: { type: 'string' }, description: '`ok`, or why the dependency is not usable' },
  },
};
