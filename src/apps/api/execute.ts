/**
 * POST /execute and POST /execute/batch: validate, stamp, publish to db-events and app-logs, and
 * answer 202 only once the broker acknowledged both records. The transport coalesces concurrent
 * publishes, so requests share broker round trips.
 */
import type { FastifyInstance, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { Accepted, BatchAccepted, BatchItem, FieldError } from '../../contract/http.ts';
import { acceptedSchema, batchAcceptedSchema, idempotencyKeySchema, ref } from '../../contract/schemas.ts';
import { toError } from '../../errors.ts';
import { childTraceparent, parseTraceparent } from '../../observability/trace-context.ts';
import type { EventIds } from '../../events/event-ids.ts';
import { recordLimitBytes } from '../../transport/record-limits.ts';
import type { ApiDeps } from './deps.ts';
import type { ApiMetrics } from './metrics.ts';
import { prepareCommand, type PreparedCommand, type RequestContext } from './command-request.ts';
import { batchBody } from './batch-body.ts';
import { commandComponent, type CommandSchemas } from './command-schemas.ts';
import { keyRequired } from './openapi.ts';
import { errorResponses } from './responses.ts';
import { bodyCheckedByHandler } from './validation.ts';
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

/** What the routes share with the rest of the API: the command schemas, the schema compiler and the key check. */
export interface RouteKit {
  schemas: CommandSchemas;
  ids: EventIds;
  compile: FastifySchemaCompiler<unknown>;
  /** Rejects without a valid key when keys are on; a no-op otherwise. */
  authenticate: (request: FastifyRequest) => Promise<void>;
  keysOn: boolean;
}

export function registerExecuteRoutes(app: FastifyInstance, deps: ApiDeps, kit: RouteKit, metrics?: ApiMetrics): void {
  const { keysOn, authenticate } = kit;
  const now = deps.now ?? (() => new Date());
  const maxRecordBytes = recordLimitBytes(deps.limits.bodyLimitBytes);
  const routeConfig = keysOn
    ? { rateLimit: { max: (request: FastifyRequest) => request.apiKey?.ratePerSecond ?? Number.MAX_SAFE_INTEGER, timeWindow: 1_000, hook: 'preHandler' as const } }
    : {};

  const context = (request: FastifyRequest): RequestContext => {
    const idempotencyKey = header(request, 'idempotency-key');
    return {
      source: request.apiKey?.source,
      allowedCommands: request.apiKey?.commands,
      idempotencyKey,
      traceparent: childTraceparent(parseTraceparent(header(request, 'traceparent'))),
      now: now(),
      maxRecordBytes,
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

  const handlerChecksBody = bodyCheckedByHandler(kit.compile);
  const headers = {
    type: 'object',
    properties: {
      'idempotency-key': idempotencyKeySchema,
      traceparent: { type: 'string', description: 'W3C trace context, continued on the event; an unreadable one starts a new trace' },
    },
  };
  const security = keysOn ? keyRequired : undefined;

  app.post('/execute', {
    onRequest: authenticate,
    config: routeConfig,
    validatorCompiler: handlerChecksBody,
    links: { 202: { getEvent: { operationId: 'getEvent', parameters: { id: '$response.body#/id' }, description: 'The outcome of the accepted command' } } },
    schema: {
      operationId: 'executeCommand',
      summary: 'Accept a command; 202 once it is durable on the broker',
      tags: ['commands'],
      ...(security ? { security } : {}),
      headers,
      body: ref(commandComponent),
      response: {
        202: { description: 'Accepted: durable on the broker', headers: { Location: { type: 'string', description: '/events/{id}' } }, content: { 'application/json': { schema: acceptedSchema } } },
        ...errorResponses(400, ...(keysOn ? [401, 403, 429] : []), 413, 415, 422, 503),
      },
    },
  }, async (request, reply) => {
    const prepared = prepareCommand(request.body, kit.schemas, kit.ids, context(request));
    await publish(request, [prepared]);
    return reply.code(202).header('location', `/events/${prepared.event.id}`).send(accepted(prepared));
  });

  const batch = batchBody(deps.limits.batchMaxItems);
  app.post('/execute/batch', {
    onRequest: authenticate,
    config: routeConfig,
    validatorCompiler: handlerChecksBody,
    schema: {
      operationId: 'executeBatch',
      summary: 'Accept many commands, each judged on its own',
      description: 'Valid commands are published together. 202: every command accepted; 207: some rejected (see results); 422 batch_rejected: every one rejected, nothing published, error.errors has each reason. Item i derives its id from <Idempotency-Key>:<i>.',
      tags: ['commands'],
      ...(security ? { security } : {}),
      headers,
      body: batch.documented,
      response: {
        202: { description: 'Every command accepted', content: { 'application/json': { schema: batchAcceptedSchema } } },
        207: { description: 'Some commands rejected; results[i] says which and why', content: { 'application/json': { schema: batchAcceptedSchema } } },
        ...errorResponses(400, ...(keysOn ? [401, 429] : []), 413, 415, 422, 503),
      },
    },
  }, async (request, reply) => {
    const items = batch.check(request.body);
    const shared = context(request);
    const results: BatchItem[] = [];
    const valid: PreparedCommand[] = [];
    const reasons: FieldError[] = [];
    items.forEach((item: unknown, index) => {
      try {
        const prepared = prepareCommand(item, kit.schemas, kit.ids, shared, `/commands/${index}`, `:${index}`);
        valid.push(prepared);
        results.push({ index, ...accepted(prepared) });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        results.push({ index, status: 'rejected', error: error.problem });
        reasons.push(...(error.problem.errors ?? [{ field: error.problem.field ?? `/commands/${index}`, message: error.problem.message }]).map((e) => ({ ...e, code: error.problem.code })));
      }
    });
    if (valid.length === 0) {
      throw problem('batch_rejected', `every command in the batch was rejected; nothing was published. First: ${results[0]?.status === 'rejected' ? results[0].error.message : ''}`, reasons[0]?.field, reasons);
    }
    await publish(request, valid);
    const rejected = items.length - valid.length;
    const answer: BatchAccepted = { accepted: valid.length, rejected, results };
    return reply.code(rejected === 0 ? 202 : 207).send(answer);
  });
}
