/**
 * Process spans for a consumed batch (OpenTelemetry messaging semantic conventions:
 * `process <topic>`, kind CONSUMER), one per record, each a child of the context the record's
 * `traceparent` header carries, so a trace runs from the HTTP request through the broker into the
 * worker. Returns undefined while tracing is off, so callers pay nothing then.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { toError } from '../errors.ts';
import type { ReceivedMessage } from '../transport/types.ts';
import { tracer, tracingActive } from './tracing.ts';

export interface ProcessSpans {
  /** The process span of `message`, and the context with it active. */
  of(message: ReceivedMessage): { span: Span; context: Context } | undefined;
  /** Runs `work` with the process span of the batch's first record active (for log lines). */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Ends every span not ended yet; an error marks them failed (the batch will be redelivered). */
  end(error?: unknown): void;
}

export function startProcessSpans(messages: readonly ReceivedMessage[], target: { group: string; system: string }): ProcessSpans | undefined {
  if (!tracingActive()) return undefined;
  const spans = new Map<ReceivedMessage, { span: Span; context: Context }>();
  for (const message of messages) {
    const parent = propagation.extract(ROOT_CONTEXT, message.headers);
    const span = tracer().startSpan(
      `process ${message.topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': target.system,
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'process',
          'messaging.destination.name': message.topic,
          'messaging.destination.partition.id': String(message.partition),
          'messaging.consumer.group.name': target.group,
          'messaging.message.id': message.id,
          'messaging.kafka.offset': Number(message.offset),
          'kitsune.delivery.attempt': message.attempt,
        },
      },
      parent,
    );
    spans.set(message, { span, context: trace.setSpan(parent, span) });
  }
  let ended = false;
  return {
    of: (message) => spans.get(message),
    run: (work) => {
      const first = messages[0] === undefined ? undefined : spans.get(messages[0]);
      return first ? context.with(first.context, work) : work();
    },
    end(error) {
      if (ended) return;
      ended = true;
      for (const { span } of spans.values()) {
        if (error !== undefined) {
          span.recordException(toError(error));
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'redelivered' });
        }
        span.end();
      }
    },
  };
}
