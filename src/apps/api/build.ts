/**
 * buildApi(deps) returns the Fastify app without listening, so tests drive it with inject() and
 * main decides where it listens. Every route declares its schemas once; they check requests,
 * and @fastify/swagger writes the OpenAPI document from them (openapi.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { toError } from '../../errors.ts';
import { EventIds } from '../../events/event-ids.ts';
import { registerHttpTracing } from '../../observability/http-tracing.ts';
import { instrumentPublisher } from '../../observability/publish-metrics.ts';
import { tracePublisher } from '../../observability/publish-tracing.ts';
import { tracingActive } from '../../observability/tracing.ts';
import type { ApiKey } from './api-keys.ts';
import { registerCatalogRoutes } from './catalog.ts';
import { CommandSchemas } from './command-schemas.ts';
import { describeConsoleRoutes } from './console-contract.ts';
import { registerDlqRoutes } from './console/dlq.ts';
import { registerEventSearch } from './console/event-search.ts';
import { registerOverview } from './console/overview.ts';
import { defaultConsoleDir, registerConsole } from './console/static.ts';
import { registerTimeline } from './console/timeline.ts';
import type { ApiDeps } from './deps.ts';
import { clientErrorHandler, frameworkErrors, registerErrorHandling } from './error-handling.ts';
import { registerEventRoutes } from './events.ts';
import { registerExecuteRoutes, type RouteKit } from './execute.ts';
import { registerHealthRoutes } from './health.ts';
import { parseJsonBody } from './json-body.ts';
import { registerLogRoutes, registerLogsInLoki } from './logs.ts';
import { collectRoutes } from './methods.ts';
import { registerMetrics } from './metrics.ts';
import { registerOpenApi } from './openapi.ts';
import { ApiError, problem } from './problems.ts';
import { noteBodyText, registerTextGuard } from './text-guard.ts';
import { createValidatorCompiler } from './validation.ts';

export type { ApiDeps, ApiLimits } from './deps.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's API key, when keys are configured. */
    apiKey: ApiKey | undefined;
  }
}

const packageVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

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
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    try {
      const parsed = parseJsonBody(body as string, deps.limits.maxJsonDepth);
      noteBodyText(request, body as string);
      done(null, parsed);
    } catch (error) {
      done(toError(error), undefined);
    }
  });
  const compile = createValidatorCompiler();
  app.setValidatorCompiler(compile);
  // Answers are built by typed code and checked against the document by the contract test; the
  // response schemas document them and do not reshape them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerErrorHandling(app, deps.limits.bodyLimitBytes);
  const answerWrongMethods = collectRoutes(app);

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
  /** Authenticates a route's caller; a no-op when no keys are configured. */
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
  const schemas = new CommandSchemas(deps.registry, { logMessageMaxBytes: deps.limits.logMessageMaxBytes });
  const ids = deps.eventIds ?? new EventIds(randomBytes(32));
  const kit: RouteKit = { schemas, ids, compile, authenticate, keysOn: keys !== undefined };

  /** Any valid key may read; a no-op when no keys are configured. */
  const reader = authenticate;
  /** DLQ routes: a key with `admin: true` when keys are configured. */
  const admin = async (request: FastifyRequest): Promise<void> => {
    await authenticate(request);
    if (keys && !request.apiKey?.admin) {
      throw problem('forbidden', `API key ${request.apiKey?.name ?? ''} may not manage the dead-letter queue; use a key with admin: true in KITSUNE_API_KEYS_FILE`);
    }
  };

  registerTextGuard(app);
  describeConsoleRoutes(app, kit.keysOn);
  await registerOpenApi(app, { schemas, keysOn: kit.keysOn, version: deps.version ?? packageVersion });
  const metrics = deps.metrics ? registerMetrics(app, deps.metrics, keys && deps.metricsRequireKey ? authenticate : undefined) : undefined;
  let publisher = deps.metrics ? instrumentPublisher(deps.publisher, deps.metrics) : deps.publisher;
  if (tracingActive()) {
    registerHttpTracing(app);
    publisher = tracePublisher(publisher, deps.messagingSystem ?? 'kafka');
  }
  registerExecuteRoutes(app, { ...deps, publisher }, kit, metrics);
  registerCatalogRoutes(app, deps.registry);
  if (deps.results) {
    registerEventRoutes(app, deps.results, kit);
    registerEventSearch(app, deps.results, ids, reader);
  }
  if (deps.logs) registerLogRoutes(app, deps.logs, kit);
  else if (deps.lokiSelector) registerLogsInLoki(app, deps.lokiSelector, kit);
  registerHealthRoutes(app, deps.readiness ?? []);
  if (deps.pool) {
    registerTimeline(app, { pool: deps.pool, logsInPostgres: deps.logs !== undefined, lokiSelector: deps.lokiSelector, traceUrl: deps.traceUrl, ids }, reader);
  }
  if (deps.dlq) registerDlqRoutes(app, deps.dlq, admin);
  registerOverview(app, { metrics: deps.metrics, dlq: deps.dlq }, reader);
  await registerConsole(app, deps.consoleDir ?? defaultConsoleDir());
  await app.after();
  answerWrongMethods();
  return app;
}
