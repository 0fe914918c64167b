/**
 * /healthz: the process is alive (no dependency checks, so an orchestrator does not restart a
 * healthy API because the broker blinked). /readyz: every dependency answers, so a load balancer
 * stops sending traffic the API could only answer with 503.
 */
import type { FastifyInstance } from 'fastify';
import { toError } from '../../errors.ts';

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

export function registerHealthRoutes(app: FastifyInstance, checks: readonly ReadinessCheck[]): void {
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const outcomes = await Promise.all(checks.map(async (check) => [check.name, await run(check)] as const));
    const failed = outcomes.filter(([, failure]) => failure !== undefined);
    const body = { status: failed.length === 0 ? 'ready' : 'not_ready', checks: Object.fromEntries(outcomes.map(([name, failure]) => [name, failure ?? 'ok'])) };
    return reply.code(failed.length === 0 ? 200 : 503).send(body);
  });
}
