/**
 * A span per Loki push request (kind CLIENT), with a span link to every record in the push, read
 * from the entries' `trace_id`/`span_id` structured metadata (the span that sent each record).
 * A push carries lines of many traces; it is parented on its first line's, so a lone request's
 * trace reaches the push, and the links name all the others. Installed only while tracing is on.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context, trace, type Link, type SpanContext } from '@opentelemetry/api';
import { toError } from '../errors.ts';
import type { LokiEntry, LokiLabels, LokiPusher } from '../loki/index.ts';
import { tracer, tracingActive } from './tracing.ts';

function contextOf(entry: LokiEntry): SpanContext | undefined {
  const { trace_id: traceId, span_id: spanId } = entry.metadata;
  if (traceId === undefined || spanId === undefined) return undefined;
  return { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
}

export function traceLokiPushes(pusher: LokiPusher, url: string): LokiPusher {
  if (!tracingActive()) return pusher;
  const server = new URL(url);
  return {
    async push(labels: LokiLabels, entries: readonly LokiEntry[], signal?: AbortSignal): Promise<void> {
      const seen = new Set<string>();
      const links: Link[] = [];
      for (const entry of entries) {
        const linked = contextOf(entry);
        if (linked && !seen.has(linked.spanId)) {
          seen.add(linked.spanId);
          links.push({ context: linked });
        }
      }
      const parent = links[0] ? trace.setSpanContext(ROOT_CONTEXT, links[0].context) : context.active();
      const span = tracer().startSpan(
        'loki push',
        {
          kind: SpanKind.CLIENT,
          links,
          attributes: {
            'http.request.method': 'POST',
            'server.address': server.hostname,
            'server.port': Number(server.port || (server.protocol === 'https:' ? 443 : 80)),
            'kitsune.loki.entries': entries.length,
          },
        },
        parent,
      );
      try {
        await pusher.push(labels, entries, signal);
      } catch (error) {
        span.recordException(toError(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
  };
}
