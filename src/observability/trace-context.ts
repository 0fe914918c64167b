/**
 * W3C Trace Context (`traceparent`) for events: continue the caller's trace when it sent a valid
 * header, start one otherwise. The event's header then links the HTTP request, the SQL statement
 * and the Loki push into one trace.
 */
import { randomBytesPooled } from '../events/random.ts';

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const allZero = /^0+$/;

export interface TraceParent {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

export function parseTraceparent(header: string | undefined): TraceParent | undefined {
  // Kitsune's own headers are already trimmed and lower case: only others' pay for normalising.
  const match = header === undefined ? null : (traceparentPattern.exec(header) ?? traceparentPattern.exec(header.trim().toLowerCase()));
  if (!match) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (allZero.test(traceId) || allZero.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** A traceparent for a new span: a child of `parent` when given, else the root of a new trace. */
export function childTraceparent(parent: TraceParent | undefined): string {
  const traceId = parent?.traceId ?? randomBytesPooled(16).toString('hex');
  const spanId = randomBytesPooled(8).toString('hex');
  return `00-${traceId}-${spanId}-${parent && !parent.sampled ? '00' : '01'}`;
}
