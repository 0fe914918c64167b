/**
 * The API's HTTP metrics and the /metrics route. Routes are labelled by their pattern
 * (`/events/:id`), never the raw URL, so ids do not become label values.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import { keyRequired } from './openapi.ts';
import { errorResponses } from './responses.ts';

export interface ApiMetrics {
  /** A publish was not acknowledged within the deadline; the client got 503. */
  publishDeadlineExceeded(): void;
}

/** `authenticate` puts /metrics behind an API key (KITSUNE_METRICS_REQUIRE_KEY); undefined leaves it open. */
export function registerMetrics(app: FastifyInstance, registry: Registry, authenticate?: (request: FastifyRequest) => Promise<void>): ApiMetrics {
  const requests = new Histogram({
    name: 'kitsune_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });
  const deadlines = new Counter({
    name: 'kitsune_api_publish_deadline_exceeded_total',
    help: 'Requests answered 503 because the broker did not acknowledge within KITSUNE_PUBLISH_TIMEOUT_MS',
    registers: [registry],
  });
  app.get('/metrics', {
    ...(authenticate ? { onRequest: authenticate } : {}),
    schema: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics of this process',
      tags: ['meta'],
      ...(authenticate ? { security: keyRequired } : {}),
      produces: ['text/plain'],
      response: { 200: { description: 'Prometheus text exposition format', type: 'string' }, ...errorResponses(400, ...(authenticate ? [401] : [])) },
    },
  }, async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
  return { publishDeadlineExceeded: () => deadlines.inc() };
}
