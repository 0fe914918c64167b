/**
 * buildApi(deps) returns the Fastify app without listening, so tests drive it with inject() and
 * main decides where it listens.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { toError } from '../../errors.ts';
import type { ApiKey } from './api-keys.ts';
import { registerCatalogRoutes } from './catalog.ts';
import type { ApiDeps, ApiLimits } from './deps.ts';
import { registerEventRoutes } from './events.ts';
import { registerExecuteRoutes } from './execute.ts';
import { registerLogRoutes, registerLogsInLoki } from './logs.ts';
import { registerMetrics } from './metrics.ts';
import { registerHttpTracing } from '../../observability/http-tracing.ts';
import { instrumentPublisher } from '../../observability/publish-metrics.ts';
import { tracePublisher } from '../../observability/publish-tracing.ts';
import { tracingActive } from '../../observability/tracing.ts';
import { registerHealthRoutes } from './health.ts';
import { parseJsonBody } from './json-body.ts';
import { ApiError, errorBody, problem } from './problems.ts';
import { clientErrorHandler, frameworkErrors, registerTextGuard } from './text-guard.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's API key, when keys are configured. */
    apiKey: ApiKey | undefined;
  }
}

/** Fastify's own error codes, mapped to Kitsune's stable codes. */
function fromFastifyError(error: Error & { code?: string; statusCode?: number }, limits: ApiLimits): ApiError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('unsupported_media_type', 'send the command as Content-Type: application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('body_too_large', `the request body is over the limit of ${limits.bodyLimitBytes} bytes (KITSUNE_BODY_LIMIT_BYTES); send less, or POST /execute/batch in smaller batches`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem('invalid_json', error.message);
    default:
      return error.statusCode === 429 ? problem('rate_limited', error.message) : undefined;
  }
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.toLowerCase().startsWith('bearer ')) return header.slice(7).trim();
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger || undefined,
    bodyLimit: deps.limits.bodyLimitBytes,
    // A line per request costs more than the request at 15k/s; metrics cover request rates.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    frameworkErrors,
    clientErrorHandler,
  });
  app.decorateRequest('apiKey', undefined);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string, deps.limits.maxJsonDepth));
    } catch (error) {
      done(toError(error), undefined);
    }
  });

  app.setErrorHandler((error: Error & { code?: string; statusCode?: number }, request, reply: FastifyReply) => {
    const known = error instanceof ApiError ? error : fromFastifyError(error, deps.limits);
    if (!known) {
      request.log.error({ err: error }, 'unhandled error');
      return reply.code(500).send(errorBody({ code: 'internal_error', message: 'internal error; see the server log' }));
    }
    if (known.retryAfterSeconds !== undefined) void reply.header('retry-after', String(known.retryAfterSeconds));
    if (known.location !== undefined) void reply.header('location', known.location);
    return reply.code(known.statusCode).send(errorBody(known.problem));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody({ code: 'not_found', message: `no route for ${request.method} ${request.url}` })),
  );

  const keys = deps.apiKeys;
  if (keys) {
    await app.register(rateLimit, {
      global: false,
      keyGenerator: (request) => request.apiKey?.name ?? request.ip,
      errorResponseBuilder: (_request, context) =>
        new ApiError(
          { code: 'rate_limited', message: `rate limit of ${context.max} commands per second exceeded` },
          { retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)) },
        ),
    });
  }
  /** Authenticates a command route; a no-op when no keys are configured. */
  const authenticate = (request: FastifyRequest): Promise<void> => {
    if (!keys) return Promise.resolve();
    const presented = presentedKey(request);
    if (presented === undefined || presented === '') {
      return Promise.reject(problem('unauthorized', 'send an API key as Authorization: Bearer <key> or X-API-Key'));
    }
    const key = keys.find(presented);
    if (!key) return Promise.reject(problem('unauthorized', 'unknown API key'));
    request.apiKey = key;
    return Promise.resolve();
  };

  registerTextGuard(app);
  const metrics = deps.metrics ? registerMetrics(app, deps.metrics) : undefined;
  let publisher = deps.metrics ? instrumentPublisher(deps.publisher, deps.metrics) : deps.publisher;
  if (tracingActive()) {
    registerHttpTracing(app);
    publisher = tracePublisher(publisher, deps.messagingSystem ?? 'kafka');
  }
  registerExecuteRoutes(app, { ...deps, publisher }, authenticate, keys !== undefined, metrics);
  registerCatalogRoutes(app, deps.registry);
  if (deps.results) registerEventRoutes(app, deps.results);
  if (deps.logs) registerLogRoutes(app, deps.logs);
  else if (deps.lokiSelector) registerLogsInLoki(app, deps.lokiSelector);
  registerHealthRoutes(app, deps.readiness ?? []);
  return app;
}
