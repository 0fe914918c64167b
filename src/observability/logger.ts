/**
 * Kitsune's own logs, one logger per process: JSON lines on stdout (pino) for collectors, or the
 * same records made readable by pino-pretty when `pretty` (a person at a terminal). Both write
 * synchronously, so a line logged just before process.exit() is not lost. A line written inside
 * a span carries its `trace_id` and `span_id`, so Grafana can jump to the trace.
 */
import { trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

export function createLogger(options: { level: string; service: string; role: string; pretty?: boolean }): Logger {
  const settings = { level: options.level, base: { service: options.service, role: options.role }, timestamp: pino.stdTimeFunctions.isoTime, mixin: traceIds };
  if (!options.pretty) return pino(settings);
  return pino(settings, PinoPretty({ colorize: true, sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
}

/** The active span's ids, for every line logged inside one. */
function traceIds(): Record<string, string> {
  const span = trace.getActiveSpan()?.spanContext();
  return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
}
