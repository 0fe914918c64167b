/**
 * GET /commands (the registry as a catalog, with each version's JSON Schema) and
 * GET /openapi.json (OpenAPI 3.1, whose schemas are JSON Schema 2020-12 like the registry's, so
 * each command version's payload schema is published as written).
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from '../../commands/index.ts';
import { LogLevels } from '../../events/envelope.ts';
import { ApiErrorCodes } from './problems.ts';

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { enum: Object.keys(ApiErrorCodes) },
        message: { type: 'string' },
        field: { type: 'string', description: 'JSON Pointer into the request body' },
        errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  },
};

export function openApiDocument(registry: Registry): Record<string, unknown> {
  const schemas: Record<string, unknown> = { Error: errorSchema };
  const commandRefs: Array<{ $ref: string }> = [];
  for (const command of registry.list()) {
    for (const version of command.versions) {
      const name = `${command.name}.v${version.version}`;
      schemas[name] = {
        type: 'object',
        description: version.description ?? command.description,
        required: ['command', 'version', 'payload'],
        additionalProperties: false,
        properties: {
          command: { const: command.name },
          version: { enum: [version.version, Number(version.version)] },
          payload: version.schema,
          log: {
            type: 'object',
            additionalProperties: false,
            required: ['level', 'message'],
            properties: { level: { enum: [...LogLevels, ...LogLevels.map((l) => l.toLowerCase())] }, message: { type: 'string' } },
          },
          metadata: {
            type: 'object',
            additionalProperties: false,
            properties: { idempotency_key: { type: 'string', maxLength: 255 }, source: { type: 'string', maxLength: 128 } },
          },
        },
      };
      commandRefs.push({ $ref: `#/components/schemas/${name}` });
    }
  }
  const command = { oneOf: commandRefs };
  const errors = Object.fromEntries(
    [400, 401, 403, 413, 415, 422, 429, 503].map((status) => [String(status), { description: 'see error.code', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]),
  );
  const accepted = { type: 'object', properties: { id: { type: 'string', format: 'uuid' }, status: { const: 'accepted' }, idempotency_key: { type: 'string' }, links: { type: 'object', properties: { self: { type: 'string' } } } } };
  const idempotencyHeader = { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 }, description: 'A retry with the same key gets the same event id' };
  return {
    openapi: '3.1.0',
    info: { title: 'Kitsune', version: '1', description: 'Event-driven command gateway' },
    paths: {
      '/execute': {
        post: {
          summary: 'Accept a command; 202 once it is durable on the broker',
          parameters: [idempotencyHeader],
          requestBody: { required: true, content: { 'application/json': { schema: command } } },
          responses: { '202': { description: 'accepted', content: { 'application/json': { schema: accepted } } }, ...errors },
        },
      },
      '/execute/batch': {
        post: {
          summary: 'Accept many commands; a result per item (202 all accepted, 207 some rejected)',
          parameters: [idempotencyHeader],
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['commands'], properties: { commands: { type: 'array', items: command } } } } } },
          responses: { '202': { description: 'all accepted' }, '207': { description: 'some rejected; see results' }, ...errors },
        },
      },
      '/commands': { get: { summary: 'The command catalog with each version\'s payload schema', responses: { '200': { description: 'catalog' } } } },
      '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'alive' } } } },
      '/readyz': { get: { summary: 'Readiness of broker and database', responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } },
    },
    components: { schemas },
  };
}

export function registerCatalogRoutes(app: FastifyInstance, registry: Registry): void {
  // Each version with the SQL it runs, so operators read what a command does (the console shows it).
  const catalog = {
    commands: registry.list().map((command) => ({
      ...command,
      versions: command.versions.map((version) => ({ ...version, sql: registry.get(command.name, version.version)?.sql })),
    })),
  };
  const document = openApiDocument(registry);
  app.get('/commands', () => catalog);
  app.get('/openapi.json', () => document);
}
