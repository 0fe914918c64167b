/**
 * The HTTP server span of every request (OpenTelemetry HTTP semantic conventions): continues the
 * caller's `traceparent`, is named after the route pattern (`POST /execute`), and is the active
 * span while the handler runs, so the spans it starts (the producer spans) are its children.
 * Installed only while tracing is on.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { tracer } from './tracing.ts';

const spans = new WeakMap<FastifyRequest, { span: Span; context: Context }>();

export function registerHttpTracing(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer().startSpan(
      request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': request.url.split('?', 1)[0],
          'url.scheme': request.protocol,
          'network.protocol.version': request.raw.httpVersion,
        },
      },
      parent,
    );
    spans.set(request, { span, context: trace.setSpan(parent, span) });
    done();
  });
  // The handler runs inside done(), so the span is active in it and in everything it awaits.
  app.addHook('preHandler', (request, _reply, done) => {
    const traced = spans.get(request);
    if (traced) context.with(traced.context, done);
    else done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const traced = spans.get(request);
    if (traced) {
      const route = request.routeOptions.url;
      if (route !== undefined) {
        traced.span.updateName(`${request.method} ${route}`);
        traced.span.setAttribute('http.route', route);
      }
      traced.span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) traced.span.setStatus({ code: SpanStatusCode.ERROR });
      traced.span.end();
      spans.delete(request);
    }
    done();
  });
}
