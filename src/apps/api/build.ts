/**
 * buildApi(deps) returns the Fastify app without listening, so tests drive it with inject() and
 * main decides where it listens.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type pg from 'pg';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { Registry } from '../../commands/index.ts';
import { toError } from '../../errors.ts';
import type { DbRecordStamp } from '../../schema-registry/index.ts';
import type { Publisher } from '../../transport/types.ts';
import type { ApiKey, ApiKeys } from './api-keys.ts';
import { registerCatalogRoutes } from './catalog.ts';
import { defaultConsoleDir, registerConsole } from './console/static.ts';
import { registerDlqRoutes, type DlqAccess } from './console/dlq.ts';
import { registerEventSearch } from './console/event-search.ts';
import { registerOverview } from './console/overview.ts';
import { registerTimeline } from './console/timeline.ts';
import { registerEventRoutes, type ResultWaiter } from './events.ts';
import { registerExecuteRoutes } from './execute.ts';
import { registerLogRoutes, registerLogsInLoki } from './logs.ts';
import { registerMetrics } from './metrics.ts';
import { registerHttpTracing } from '../../observability/http-tracing.ts';
import { instrumentPublisher } from '../../observability/publish-metrics.ts';
import { tracePublisher } from '../../observability/publish-tracing.ts';
import { tracingActive } from '../../observability/tracing.ts';
import { registerHealthRoutes, type ReadinessCheck } from './health.ts';
import { parseJsonBody } from './json-body.ts';
import { ApiError, errorBody, problem } from './problems.ts';
import { clientErrorHandler, frameworkErrors, registerTextGuard } from './text-guard.ts';

export interface ApiLimits {
  bodyLimitBytes: number;
  maxJsonDepth: number;
  logMessageMaxBytes: number;
  batchMaxItems: number;
  /** A publish not acknowledged within this gets 503 with Retry-After. */
  publishTimeoutMs: number;
}

export interface ApiDeps {
  registry: Registry;
  /** Transports coalesce concurrent publishes, so requests share broker round trips. */
  publisher: Publisher;
  topics: { dbEvents: string; appLogs: string };
  limits: ApiLimits;
  /** Names each db-events record's schema id when a schema registry is configured. */
  stampDbRecord?: DbRecordStamp | undefined;
  /** undefined: no authentication, `source` comes from the body. */
  apiKeys?: ApiKeys | undefined;
  readiness?: readonly ReadinessCheck[];
  /** Serves GET /events/:id when the API can reach PostgreSQL. */
  results?: ResultWaiter | undefined;
  /** Serves GET /logs from kitsune.logs when logs are kept in PostgreSQL (no LOKI_URL). */
  logs?: pg.Pool | undefined;
  /** With LOKI_URL, GET /logs says where the lines are: this LogQL stream selector. */
  lokiSelector?: string | undefined;
  /** KITSUNE_TRACE_URL: the console links each event's trace there. */
  traceUrl?: string | undefined;
  /** messaging.system of the producer spans: the transport's name. (Default: 'kafka') */
  messagingSystem?: string;
  /** The process's Prometheus registry, served at GET /metrics. */
  metrics?: MetricsRegistry | undefined;
  /** Kitsune's database: GET /events search and timelines, the console's reads. */
  pool?: pg.Pool | undefined;
  /** The dead-letter queue over HTTP (GET /dlq, POST /dlq/dry-run|replay|purge). */
  dlq?: DlqAccess | undefined;
  /** The built console served at /console; undefined: where `npm run build` puts it. */
  consoleDir?: string | undefined;
  logger?: FastifyBaseLogger | false;
  now?: () => Date;
}

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
  const metrics = deps.metrics ? registerMetrics(app, deps.metrics) : undefined;
  let publisher = deps.metrics ? instrumentPublisher(deps.publisher, deps.metrics) : deps.publisher;
  if (tracingActive()) {
    registerHttpTracing(app);
    publisher = tracePublisher(publisher, deps.messagingSystem ?? 'kafka');
  }
  registerExecuteRoutes(app, { ...deps, publisher }, authenticate, keys !== undefined, metrics);
  registerCatalogRoutes(app, deps.registry);
  if (deps.results) {
    registerEventRoutes(app, deps.results);
    registerEventSearch(app, deps.results, reader);
  }
  if (deps.logs) registerLogRoutes(app, deps.logs);
  else if (deps.lokiSelector) registerLogsInLoki(app, deps.lokiSelector);
  registerHealthRoutes(app, deps.readiness ?? []);
  if (deps.pool) {
    registerTimeline(app, { pool: deps.pool, logsInPostgres: deps.logs !== undefined, lokiSelector: deps.lokiSelector, traceUrl: deps.traceUrl }, reader);
  }
  if (deps.dlq) registerDlqRoutes(app, deps.dlq, admin);
  registerOverview(app, { metrics: deps.metrics, dlq: deps.dlq }, reader);
  await registerConsole(app, deps.consoleDir ?? defaultConsoleDir());
  return app;
}
