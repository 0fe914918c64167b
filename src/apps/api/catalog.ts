/**
 * GET /commands: the registry as a catalog, with each version's payload JSON Schema (draft
 * 2020-12, the dialect of OpenAPI 3.1, so the schemas are published as written).
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from '../../commands/index.ts';
import { errorResponses } from './responses.ts';

const catalogSchema = {
  type: 'object',
  required: ['commands'],
  properties: {
    commands: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'versions'],
        properties: {
          name: { type: 'string' },
          description: { type: 'string' },
          versions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['version', 'entityKey', 'returning', 'schema'],
              properties: {
                version: { type: 'string' },
                description: { type: 'string' },
                entityKey: { type: 'string', description: 'The payload field that orders events of one entity' },
                returning: { type: 'boolean', description: 'Whether the statement\'s rows are the result' },
                schema: { type: 'object', description: 'The payload\'s JSON Schema' },
                sql: { type: 'string', description: 'The statement the DB worker runs with the payload' },
              },
            },
          },
        },
      },
    },
  },
};

export function registerCatalogRoutes(app: FastifyInstance, registry: Registry): void {
  // Each version with the SQL it runs, so operators read what a command does (the console shows it).
  const catalog = {
    commands: registry.list().map((command) => ({
      ...command,
      versions: command.versions.map((version) => ({ ...version, sql: registry.get(command.name, version.version)?.sql })),
    })),
  };
  app.get('/commands', {
    schema: {
      operationId: 'listCommands',
      summary: "The command catalog with each version's payload schema",
      tags: ['commands'],
      response: { 200: { description: 'The registry', content: { 'application/json': { schema: catalogSchema } } }, ...errorResponses(400) },
    },
  }, () => catalog);
}
