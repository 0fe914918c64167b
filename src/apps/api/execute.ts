/**
 * POST /execute and POST /execute/batch: validate, stamp, publish to db-events and app-logs, and
 * answer 202 only once the broker acknowledged both records. The transport coalesces concurrent
 * publishes, so requests share broker round trips.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Accepted, BatchAccepted, BatchItem } from '../../contract/http.ts';
import { toError } from '../../errors.ts';
import { childTraceparent, parseTraceparent } from '../../observability/trace-context.ts';
import type { ApiDeps } from './deps.ts';
import type { ApiMetrics } from './metrics.ts';
import { prepareCommand, type PreparedCommand, type RequestContext } from './command-request.ts';
import { ApiError, problem } from './problems.ts';

const accepted = ({ event }: PreparedCommand): Accepted => ({
  id: event.id,
  status: 'accepted',
  idempotency_key: event.metadata.idempotency_key,
  links: { self: `/events/${event.id}` },
});

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

export function registerExecuteRoutes(
  app: FastifyInstance,
  deps: ApiDeps,
  authenticate: (request: FastifyRequest) => Promise<void>,
  rateLimited: boolean,
  metrics?: ApiMetrics,
): void {
  const now = deps.now ?? (() => new Date());
  const limits = { logMessageMaxBytes: deps.limits.logMessageMaxBytes };
  const routeConfig = rateLimited
    ? { rateLimit: { max: (request: FastifyRequest) => request.apiKey?.ratePerSecond ?? Number.MAX_SAFE_INTEGER, timeWindow: 1_000, hook: 'preHandler' as const } }
    : {};

  const context = (request: FastifyRequest): RequestContext => {
    const idempotencyKey = header(request, 'idempotency-key');
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
      throw problem('invalid_request', 'the Idempotency-Key header must be 1 to 255 visible ASCII characters');
    }
    return {
      source: request.apiKey?.source,
      allowedCommands: request.apiKey?.commands,
      idempotencyKey,
      traceparent: childTraceparent(parseTraceparent(header(request, 'traceparent'))),
      now: now(),
    };
  };

  /**
   * What a 503 says once a publish was attempted: the records may have reached the broker, so it
   * names each event and the key that retries it without a second effect, never "just retry".
   */
  const unavailable = (commands: readonly PreparedCommand[], reason: string, retryAfterSeconds: number, cause?: unknown): ApiError => {
    const [only] = commands;
    const single = commands.length === 1 && only !== undefined;
    const events = commands.map(({ event }, index) => ({ index, id: event.id, idempotency_key: event.metadata.idempotency_key }));
    const advice = single
      ? `; it may still be applied: retry with Idempotency-Key: ${only.event.metadata.idempotency_key} (the same event ${only.event.id}, applied at most once) or look it up at /events/${only.event.id}`
      : '; they may still be applied: retry each with its idempotency_key from events (the same events, applied at most once)';
    return new ApiError(
      {
        code: 'broker_unavailable',
        message: `${reason}${advice}`,
        ...(single ? { id: only.event.id, idempotency_key: only.event.metadata.idempotency_key } : { events }),
      },
      { retryAfterSeconds, cause, ...(single ? { location: `/events/${only.event.id}` } : {}) },
    );
  };

  /** Publishes both records of every command; rejects with 503 if the broker does not acknowledge in time. */
  const publish = async (request: FastifyRequest, commands: readonly PreparedCommand[]): Promise<void> => {
    const { stampDbRecord: stamp } = deps;
    const dbRecords = stamp ? commands.map((c) => stamp(c.dbRecord, c.event.command, c.event.version)) : commands.map((c) => c.dbRecord);
    const sent = Promise.all([
      deps.publisher.publish(deps.topics.dbEvents, dbRecords),
      deps.publisher.publish(deps.topics.appLogs, commands.map((c) => c.logRecord)),
    ]);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        metrics?.publishDeadlineExceeded();
        reject(unavailable(commands, `the broker did not acknowledge within ${deps.limits.publishTimeoutMs} ms`, 5));
      }, deps.limits.publishTimeoutMs);
    });
    try {
      await Promise.race([sent, deadline]);
    } catch (error) {
      sent.catch(() => undefined); // settled later; its outcome no longer reaches the client
      if (error instanceof ApiError) throw error;
      request.log.warn({ err: error }, 'publish failed');
      throw unavailable(commands, `the broker refused the event: ${toError(error).message}`, 1, error);
    } finally {
      clearTimeout(timer);
    }
  };

  app.post('/execute', { onRequest: authenticate, config: routeConfig }, async (request, reply) => {
    const prepared = prepareCommand(request.body, deps.registry, context(request), limits);
    await publish(request, [prepared]);
    return reply.code(202).header('location', `/events/${prepared.event.id}`).send(accepted(prepared));
  });

  app.post('/execute/batch', { onRequest: authenticate, config: routeConfig }, async (request, reply) => {
    const body = request.body as { commands?: unknown } | undefined;
    const items = body && typeof body === 'object' && !Array.isArray(body) ? body.commands : undefined;
    if (!Array.isArray(items)) throw problem('invalid_request', 'send { "commands": [ ... ] }', '/commands');
    if (items.length === 0) throw problem('invalid_request', 'commands is empty', '/commands');
    if (items.length > deps.limits.batchMaxItems) {
      throw problem('batch_too_large', `a batch holds at most ${deps.limits.batchMaxItems} commands (got ${items.length})`, '/commands');
    }
    const shared = context(request);
    const results: BatchItem[] = [];
    const valid: PreparedCommand[] = [];
    items.forEach((item: unknown, index) => {
      try {
        const prepared = prepareCommand(item, deps.registry, shared, limits, `/commands/${index}`, `:${index}`);
        valid.push(prepared);
        results.push({ index, ...accepted(prepared) });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        results.push({ index, status: 'rejected', error: error.problem });
      }
    });
    if (valid.length > 0) await publish(request, valid);
    const rejected = items.length - valid.length;
    const answer: BatchAccepted = { accepted: valid.length, rejected, results };
    return reply.code(rejected === 0 ? 202 : 207).send(answer);
  });
}
