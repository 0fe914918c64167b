/**
 * The contract of the routes the console reads (console/*.ts): GET /events (search), GET
 * /events/{id}/timeline, GET /overview, the dead-letter queue over HTTP, and GET /console. Their
 * modules check their own inputs and answer in the one error shape; this states what they take and
 * answer, so the OpenAPI document lists them and the server checks the same parameters. Each
 * schema is attached as its route is added (an onRoute hook, as openapi.ts does for /docs), and a
 * route that already declares a schema keeps its own.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { eventIdSchema, idempotencyKeySchema, sourceSchema } from '../../contract/schemas.ts';
import { LetterStates } from '../../dlq/plan.ts';
import { keyRequired } from './openapi.ts';
import { errorResponses } from './responses.ts';

const json = (description: string, schema: Record<string, unknown> = { type: 'object' }): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema } },
});

/** A UUID, as a pattern to repeat. */
const uuid = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/** An RFC 3339 time, or empty for none. */
const time = (description: string) => ({ type: 'string', anyOf: [{ const: '' }, { format: 'date-time' }], description: `${description} (RFC 3339, such as 2026-01-31T12:00:00Z)` });

const text = (description: string) => ({ type: 'string', maxLength: 256, description });

const ids = {
  type: 'object',
  required: ['ids'],
  properties: {
    ids: { type: 'array', minItems: 1, maxItems: 1_000, items: { type: 'string', minLength: 1, maxLength: 64 }, description: 'Event ids or partition:offset positions of dead letters' },
  },
};

function schemas(keysOn: boolean): Map<string, Record<string, unknown>> {
  const read = keysOn ? { security: keyRequired } : {};
  // 403 only where keys are on: it is then "not an admin key".
  const readErrors = (...statuses: number[]): Record<string, unknown> => errorResponses(...statuses, ...(keysOn ? [401] : []));
  const adminErrors = (...statuses: number[]): Record<string, unknown> => errorResponses(...statuses, 409, ...(keysOn ? [401, 403] : []));
  return new Map<string, Record<string, unknown>>([
    ['GET /events', {
      operationId: 'searchEvents',
      summary: 'Several outcomes at once (ids), or the event of an idempotency key',
      description: '`ids`, or `idempotency_key` (with `source` when API keys are off), or both: the ids\' events, then the key\'s. Neither: no events. With API keys on, a key reads its own source only: an id not issued to it, or `source` another source, answers 404 (an admin key reads any).',
      tags: ['console'],
      ...read,
      querystring: {
        type: 'object',
        properties: { ids: { type: 'string', pattern: `^${uuid}(,${uuid}){0,99}$`, description: '1 to 100 event ids, comma-separated' }, idempotency_key: idempotencyKeySchema, source: sourceSchema },
      },
      response: { 200: json('The outcomes, in the order asked', { type: 'object', required: ['events'], properties: { events: { type: 'array' } } }), ...readErrors(400, ...(keysOn ? [404] : [])) },
    }],
    ['GET /events/:id/timeline', {
      operationId: 'getEventTimeline',
      summary: "An event's life: accepted, attempts, its outcome, its dead letter and replays, its log lines",
      tags: ['console'],
      ...read,
      params: { type: 'object', required: ['id'], properties: { id: eventIdSchema } },
      response: { 200: json('The timeline'), ...readErrors(400, 404) },
    }],
    ['GET /overview', {
      operationId: 'getOverview',
      summary: "Rates, lag, the breaker and the DLQ's depth, from Kitsune's own metrics",
      tags: ['console'],
      ...read,
      response: { 200: json('The figures; null where this process has no such metric'), ...readErrors() },
    }],
    ['GET /dlq', {
      operationId: 'listDeadLetters',
      summary: 'The dead letters, with what a replay would do to each (an admin key when keys are on)',
      tags: ['dead letters'],
      ...read,
      querystring: {
        type: 'object',
        properties: {
          command: text('Only this command'),
          reason: text('Only reasons holding this text'),
          sqlstate: text('Only this SQLSTATE'),
          state: { enum: [...Object.values(LetterStates), ''], description: 'Only letters in this state' },
          from: time('Failed at or after'),
          to: time('Failed before'),
          all: { enum: ['true', 'false'], description: '`true`: replayed letters too' },
        },
      },
      response: { 200: json('The letters and counts by command, reason and SQLSTATE'), ...adminErrors(400) },
    }],
    ['POST /dlq/dry-run', {
      operationId: 'dryRunDeadLetters',
      summary: 'What replaying these dead letters would do, changing nothing',
      tags: ['dead letters'],
      ...read,
      body: ids,
      response: { 200: json('Each letter with its predicted outcome'), ...adminErrors(400, 413, 415) },
    }],
    ['POST /dlq/replay', {
      operationId: 'replayDeadLetters',
      summary: 'Publish these dead letters again (force: past the loop guard)',
      tags: ['dead letters'],
      ...read,
      body: { ...ids, properties: { ...ids.properties, force: { type: 'boolean' } } },
      response: { 200: json('What was replayed and what was held'), ...adminErrors(400, 413, 415) },
    }],
    ['POST /dlq/purge', {
      operationId: 'purgeDeadLetters',
      summary: 'Drop the dead letters left (before: only those that failed earlier)',
      tags: ['dead letters'],
      ...read,
      body: { type: 'object', properties: { before: time('Only letters that failed before'), dry_run: { type: 'boolean' } } },
      response: { 200: json('What was (or would be) dropped'), ...adminErrors(400, 413, 415) },
    }],
    ['GET /console', {
      operationId: 'getConsole',
      summary: "The operator's console (a page for people): redirects to /console/",
      tags: ['console'],
      response: { 302: { description: 'To /console/ (no body)', type: 'null', headers: { Location: { type: 'string', description: '/console/' } } } },
    }],
  ]);
}

/** Attaches the console routes' schemas as they are added; call before they are registered. */
export function describeConsoleRoutes(app: FastifyInstance, keysOn: boolean): void {
  const byRoute = schemas(keysOn);
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.schema !== undefined) return;
    const schema = byRoute.get(`${String(route.method)} ${route.url}`);
    if (schema) route.schema = schema as RouteOptions['schema'];
  });
}
