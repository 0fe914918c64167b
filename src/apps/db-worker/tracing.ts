/**
 * The DB worker's spans: a process span per event (consumer-tracing.ts) and under it the SQL
 * span of its command, whose `db.query.text` is the registry's parameterised statement (values
 * are never recorded). The events of a batch run in one transaction, so their SQL spans share
 * the transaction's start and end. The result record carries the process span's context.
 */
import { SpanKind, SpanStatusCode, context, propagation } from '@opentelemetry/api';
import type { Registry } from '../../commands/index.ts';
import { startProcessSpans, type ProcessSpans } from '../../observability/consumer-tracing.ts';
import { tracer } from '../../observability/tracing.ts';
import type { OutgoingMessage, ReceivedMessage } from '../../transport/types.ts';
import { OutcomeStatuses, type Outcome } from '../../execution/index.ts';

export interface BatchTrace {
  /** The statements of `outcomes` ran from the batch's start until now. */
  executed(outcomes: readonly Outcome[]): void;
  /** `record` with the `traceparent` of the outcome's process span. */
  withContext(record: OutgoingMessage, outcome: Outcome): OutgoingMessage;
  /** Runs `work` with the outcome's process span active, so its log lines carry the trace id. */
  inContext(outcome: Outcome, work: () => void): void;
  end(error?: unknown): void;
}

export function traceBatch(batch: readonly ReceivedMessage[], target: { group: string; system: string; registry: Registry }): BatchTrace | undefined {
  const startTime = Date.now();
  const spans: ProcessSpans | undefined = startProcessSpans(batch, target);
  if (!spans) return undefined;
  return {
    executed(outcomes) {
      for (const outcome of outcomes) {
        const process = spans.of(outcome.message);
        process?.span.setAttribute('kitsune.outcome', outcome.status);
        if (outcome.status === OutcomeStatuses.deadLettered) process?.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.failure?.code ?? 'dead-lettered' });
        const entry = outcome.event && target.registry.get(outcome.event.command, outcome.event.version);
        if (!process || !entry) continue;
        const operation = /^\s*(\w+)/.exec(entry.text)?.[1]?.toUpperCase() ?? 'SQL';
        const sql = tracer().startSpan(
          `${operation} ${entry.command}`,
          {
            kind: SpanKind.CLIENT,
            startTime,
            attributes: {
              'db.system.name': 'postgresql',
              'db.operation.name': operation,
              'db.query.text': entry.text,
              'kitsune.command': entry.command,
              'kitsune.command.version': entry.version,
              ...(outcome.failure?.sqlstate ? { 'db.response.status_code': outcome.failure.sqlstate } : {}),
            },
          },
          process.context,
        );
        if (outcome.failure?.sqlstate) sql.setStatus({ code: SpanStatusCode.ERROR, message: outcome.failure.sqlstate });
        sql.end();
      }
    },
    withContext(record, outcome) {
      const process = spans.of(outcome.message);
      if (!process) return record;
      const headers: Record<string, string> = { ...record.headers };
      propagation.inject(process.context, headers);
      return { ...record, headers };
    },
    inContext(outcome, work) {
      const process = spans.of(outcome.message);
      if (process) context.with(process.context, work);
      else work();
    },
    end: (error) => spans.end(error),
  };
}
