/**
 * GET /events/:id/timeline: what Kitsune knows of one event, step by step, from its own tables:
 * accepted (the log line's timestamp, source and key), produced and consumed (the db-events
 * position the DB worker stored), transient failures while it is retried (the attempt count and
 * the last SQLSTATE), and the outcome: executed (rows, result) or dead-lettered (reason).
 *
 * Limits: the broker is the record of accepted events, so an event no worker has seen yet shows
 * as accepted-or-unknown; only the last transient error is kept (kitsune.event_attempts), not
 * every attempt; the log line is here only when logs are kept in PostgreSQL (no LOKI_URL).
 *
 * With API keys on, a key reads the timelines of its own source's events only; any other id
 * answers 404, decided from the id alone as GET /events/:id does, so another source's event and
 * an id that never existed read alike, whether or not a worker has seen it yet.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { LogView } from '../../../contract/http.ts';
import { loadQueries } from '../../../db/queries.ts';
import type { EventIds } from '../../../events/event-ids.ts';
import { logView, type LogRow } from '../log-rows.ts';
import { problem } from '../problems.ts';
import { readableSource, type Guard } from './scope.ts';

const queries = loadQueries(new URL('../sql/console.sql', import.meta.url), ['TimelineResult', 'TimelineAttempts', 'TimelineLogs']);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const StepKinds = ['accepted', 'produced', 'retrying', 'executed', 'dead_lettered', 'conflicts'] as const;

export interface TimelineStep {
  kind: (typeof StepKinds)[number];
  /** ISO 8601, when known. */
  at: string | null;
  /** One line for people. */
  summary: string;
  /** The facts behind it, as stored. */
  details: Record<string, unknown>;
}

export interface Timeline {
  id: string;
  status: 'pending' | 'succeeded' | 'dead_lettered';
  /** True while the outcome is not stored: poll again. */
  live: boolean;
  steps: TimelineStep[];
  /** The event's log line, as GET /logs shows it. */
  logs: LogView[];
  /** W3C trace id, when the event was traced. */
  trace_id: string | null;
  /** With KITSUNE_TRACE_URL: where the trace is shown. */
  trace_url: string | null;
  /** With LOKI_URL: the LogQL that finds its line. */
  loki_query: string | null;
}

interface ResultRow {
  status: 'succeeded' | 'dead_lettered';
  command: string;
  version: string;
  source: string;
  idempotency_key: string;
  result_rows: unknown[] | null;
  rows_affected: number | null;
  error: Record<string, unknown> | null;
  attempts: number;
  source_topic: string | null;
  source_partition: number | null;
  source_offset: string | null;
  completed_at: Date;
  conflicts: number;
}

export interface TimelineDeps {
  pool: pg.Pool;
  logsInPostgres: boolean;
  lokiSelector: string | undefined;
  /** KITSUNE_TRACE_URL: a URL with `{trace_id}` in it. */
  traceUrl?: string | undefined;
  /** Tells which source an id was issued to, for scoped reads. */
  ids: EventIds;
}

export async function eventTimeline(deps: TimelineDeps, id: string): Promise<Timeline> {
  const [result, attempts, logs] = await Promise.all([
    deps.pool.query<ResultRow>(queries.TimelineResult, [id]),
    deps.pool.query<{ attempts: number; last_error: Record<string, unknown> | null; updated_at: Date }>(queries.TimelineAttempts, [id]),
    deps.logsInPostgres ? deps.pool.query<LogRow>(queries.TimelineLogs, [id]) : Promise.resolve(undefined),
  ]);
  const row = result.rows[0];
  const retry = attempts.rows[0];
  const line = logs?.rows[0];
  const steps: TimelineStep[] = [];
  const source = row?.source ?? line?.source;
  const key = row?.idempotency_key ?? line?.idempotency_key;
  steps.push({
    kind: 'accepted',
    at: line ? line.ts.toISOString() : null,
    summary: source !== undefined ? `202 Accepted from source ${source}, idempotency key ${key}` : 'not seen by a worker yet (or an id Kitsune never accepted)',
    details: { source: source ?? null, idempotency_key: key ?? null, command: row?.command ?? line?.command ?? null, version: row?.version ?? line?.version ?? null },
  });
  if (row?.source_topic != null) {
    steps.push({
      kind: 'produced',
      at: null,
      summary: `consumed from ${row.source_topic} partition ${row.source_partition}, offset ${row.source_offset}`,
      details: { topic: row.source_topic, partition: row.source_partition, offset: row.source_offset },
    });
  }
  if (retry) {
    const sqlstate = typeof retry.last_error?.sqlstate === 'string' ? retry.last_error.sqlstate : null;
    steps.push({
      kind: 'retrying',
      at: retry.updated_at.toISOString(),
      summary: `${retry.attempts} transient failure${retry.attempts === 1 ? '' : 's'} so far${sqlstate ? `, last SQLSTATE ${sqlstate}` : ''}; retried with backoff`,
      details: { attempts: retry.attempts, last_error: retry.last_error },
    });
  }
  if (row?.status === 'succeeded') {
    steps.push({
      kind: 'executed',
      at: row.completed_at.toISOString(),
      summary: `executed ${row.command} v${row.version}: ${row.rows_affected ?? 0} row${row.rows_affected === 1 ? '' : 's'} affected after ${row.attempts} attempt${row.attempts === 1 ? '' : 's'}`,
      details: { rows_affected: row.rows_affected ?? 0, rows: row.result_rows ?? [], attempts: row.attempts },
    });
  } else if (row?.status === 'dead_lettered') {
    const reason = typeof row.error?.reason === 'string' ? row.error.reason : 'no reason recorded';
    const sqlstate = typeof row.error?.sqlstate === 'string' ? ` (SQLSTATE ${row.error.sqlstate})` : '';
    steps.push({
      kind: 'dead_lettered',
      at: row.completed_at.toISOString(),
      summary: `dead-lettered after ${row.attempts} attempt${row.attempts === 1 ? '' : 's'}: ${reason}${sqlstate}`,
      details: { error: row.error, attempts: row.attempts },
    });
  }
  if (row && row.conflicts > 0) {
    steps.push({
      kind: 'conflicts',
      at: null,
      summary: `${row.conflicts} later deliver${row.conflicts === 1 ? 'y' : 'ies'} with this key and another payload: recorded, not applied`,
      details: { conflicts: row.conflicts },
    });
  }
  return {
    id,
    status: row?.status ?? 'pending',
    live: row === undefined,
    steps,
    logs: line ? [logView(line)] : [],
    trace_id: line?.trace_id ?? null,
    trace_url: line?.trace_id && deps.traceUrl ? deps.traceUrl.replaceAll('{trace_id}', encodeURIComponent(line.trace_id)) : null,
    loki_query: deps.lokiSelector ? `${deps.lokiSelector} | event_id="${id}"` : null,
  };
}

export function registerTimeline(app: FastifyInstance, deps: TimelineDeps, guard: Guard): void {
  app.get<{ Params: { id: string } }>('/events/:id/timeline', { onRequest: guard }, async (request): Promise<Timeline> => {
    const id = request.params.id.toLowerCase();
    if (!uuid.test(id)) throw problem('not_found', `no event ${request.params.id}: event ids are UUIDs`, '/id', undefined, 'path');
    const scope = readableSource(request);
    // Another source's event reads as unknown: saying it exists would leak it.
    if (scope !== undefined && !deps.ids.issuedTo(id, scope)) throw problem('not_found', `no event ${request.params.id} for this key`, '/id', undefined, 'path');
    return eventTimeline(deps, id);
  });
}
