/**
 * /healthz: the process is alive (no dependency checks, so an orchestrator does not restart a
 * healthy API because the broker blinked). /readyz: every dependency answers, so a load balancer
 * stops sending traffic the API could only answer with 503.
 */
import type { FastifyInstance } from 'fastify';
import { healthSchema, readinessSchema } from '../../contract/schemas.ts';
import { toError } from '../../errors.ts';
import { errorResponses } from './responses.ts';

export interface ReadinessCheck {
  name: string;
  /** Resolves when the dependency is usable. Bounded by checkTimeoutMs. */
  check: () => Promise<void>;
}

const checkTimeoutMs = 2_000;

async function run(check: ReadinessCheck): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.check(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${checkTimeoutMs} ms`)), checkTimeoutMs))),
    ]);
    return undefined;
  } catch (error) {
    return toError(error).message;
  } finally {
    clearTimeout(timer);
  }
}

const json = (schema: unknown): { 'application/json': { schema: unknown } } => ({ 'application/json': { schema } });

export function registerHealthRoutes(app: FastifyInstance, checks: readonly ReadinessCheck[]): void {
  app.get('/healthz', {
    schema: { operationId: 'getHealth', summary: 'Liveness: the process answers', tags: ['meta'], response: { 200: { description: 'Alive', content: json(healthSchema) }, ...errorResponses(400) } },
  }, () => ({ status: 'ok' }));
  app.get('/readyz', {
    schema: {
      operationId: 'getReadiness',
      summary: 'Readiness: the broker and the database answer',
      tags: ['meta'],
      response: {
        200: { description: 'Ready', content: json(readinessSchema) },
        503: { description: 'Not ready; checks names the dependency that is not usable and why', content: json(readinessSchema) },
        ...errorResponses(400),
      },
    },
  }, async (_request, reply) => {
    const outcomes = await Promise.all(checks.map(async (check) => [check.name, await run(check)] as const));
    const failed = outcomes.filter(([, failure]) => failure !== undefined);
    const body = { status: failed.length === 0 ? 'ready' : 'not_ready', checks: Object.fromEntries(outcomes.map(([name, failure]) => [name, failure ?? 'ok'])) };
    return reply.code(failed.length === 0 ? 200 : 503).send(body);
  });
}
