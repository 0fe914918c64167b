/**
 * A producer span per publish() call and topic (OpenTelemetry messaging semantic conventions:
 * `send <topic>`), whose context replaces each record's `traceparent` header, so consumers
 * continue the trace from the send. Installed only while tracing is on.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { toError } from '../errors.ts';
import type { OutgoingMessage, Publisher } from '../transport/types.ts';
import { tracer } from './tracing.ts';

/** `system`: messaging.system, `kafka` or the transport's name. */
export function tracePublisher(publisher: Publisher, system: string): Publisher {
  return {
    async publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
      const span = tracer().startSpan(`send ${topic}`, {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': system,
          'messaging.operation.type': 'send',
          'messaging.operation.name': 'send',
          'messaging.destination.name': topic,
          ...(messages.length === 1 ? { 'messaging.message.id': messages[0]!.id } : { 'messaging.batch.message_count': messages.length }),
        },
      });
      const sending = trace.setSpan(context.active(), span);
      const carrier: Record<string, string> = {};
      propagation.inject(sending, carrier);
      const traced = messages.map((message) => ({ ...message, headers: { ...message.headers, ...carrier } }));
      try {
        await context.with(sending, () => publisher.publish(topic, traced));
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
