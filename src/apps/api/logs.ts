/**
 * GET /logs: the log lines the log worker kept in kitsune.logs (the mode without LOKI_URL), newest
 * first, one page at a time.
 *
 *   GET /logs?level=ERROR,WARN&command=create_user&source=user-service
 *            &from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&text=timeout&limit=100&cursor=…
 *
 * `from` is inclusive and `to` exclusive (as Loki's query_range); `text` is a case-insensitive
 * substring of the message; `cursor` is the `next_cursor` of the previous page, which is null on
 * the last one. Paging is by (timestamp, event id), so rows stored meanwhile never shift a page.
 * Limit: `text` scans the rows the other filters leave (no trigram index); narrow by time first.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { LogPage, LogView } from '../../contract/http.ts';
import { loadQueries } from '../../db/queries.ts';
import { LogLevels, type LogLevel } from '../../events/envelope.ts';
import { problem } from './problems.ts';

const queries = loadQueries(new URL('./sql/logs.sql', import.meta.url), ['LogsList']);

export const logsLimits = { defaultLimit: 100, maxLimit: 1_000, maxFilterLength: 256 } as const;

interface Row {
  event_id: string;
  ts: Date;
  ts_exact: string;
  level: string;
  command: string;
  version: string;
  source: string;
  message: string;
  idempotency_key: string;
  trace_id: string | null;
}

interface Filters {
  levels: LogLevel[] | null;
  command: string | null;
  source: string | null;
  from: string | null;
  to: string | null;
  pattern: string | null;
  cursor: { ts: string; eventId: string } | null;
  limit: number;
}

const knownParams = new Set(['level', 'command', 'source', 'from', 'to', 'text', 'limit', 'cursor']);
const levels = new Map<string, LogLevel>(LogLevels.map((level) => [level, level]));
/** A date, or a date-time with a zone: a zone-less time would depend on the server's time zone. */
const isoTimestamp = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;
const exactTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw problem('invalid_request', `${name} may be given once`, `/${name}`);
  return value;
}

function bounded(query: Record<string, unknown>, name: string): string | null {
  const value = single(query, name);
  if (value === undefined) return null;
  if (value === '' || value.length > logsLimits.maxFilterLength) {
    throw problem('invalid_request', `${name} must be 1 to ${logsLimits.maxFilterLength} characters`, `/${name}`);
  }
  return value;
}

function timestamp(query: Record<string, unknown>, name: string): string | null {
  const value = single(query, name);
  if (value === undefined) return null;
  const ms = isoTimestamp.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw problem('invalid_request', `${name} must be an ISO 8601 date or date-time with a zone, e.g. 2026-01-31T12:00:00Z`, `/${name}`);
  }
  return new Date(ms).toISOString();
}

/** The cursor is opaque to clients: base64url of [exact timestamp, event id] of the last row. */
export function encodeCursor(tsExact: string, eventId: string): string {
  return Buffer.from(JSON.stringify([tsExact, eventId]), 'utf8').toString('base64url');
}

function decodeCursor(value: string): { ts: string; eventId: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2) {
      const [ts, eventId] = parsed as unknown[];
      if (typeof ts === 'string' && exactTimestamp.test(ts) && typeof eventId === 'string' && eventId !== '') return { ts, eventId };
    }
  } catch {
    // Falls through to the error below.
  }
  throw problem('invalid_request', 'cursor is not one this API gave out; pass next_cursor unchanged', '/cursor');
}

/** ILIKE pattern for a substring: the user's %, _ and \ match themselves. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

function parseFilters(query: Record<string, unknown>): Filters {
  for (const name of Object.keys(query)) {
    if (!knownParams.has(name)) throw problem('invalid_request', `unknown parameter "${name}"; allowed: ${[...knownParams].join(', ')}`, `/${name}`);
  }
  const levelText = bounded(query, 'level');
  const chosen = levelText?.split(',').map((name) => {
    const level = levels.get(name.trim().toUpperCase());
    if (!level) throw problem('invalid_request', `level must be one or more of ${LogLevels.join(', ')}, comma-separated`, '/level');
    return level;
  });
  const from = timestamp(query, 'from');
  const to = timestamp(query, 'to');
  if (from !== null && to !== null && from >= to) throw problem('invalid_request', 'from must be before to', '/from');
  const limitText = single(query, 'limit');
  const limit = limitText === undefined ? logsLimits.defaultLimit : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > logsLimits.maxLimit) {
    throw problem('invalid_request', `limit must be an integer from 1 to ${logsLimits.maxLimit}`, '/limit');
  }
  const text = bounded(query, 'text');
  const cursor = single(query, 'cursor');
  return {
    levels: chosen ?? null,
    command: bounded(query, 'command'),
    source: bounded(query, 'source'),
    from,
    to,
    pattern: text === null ? null : containsPattern(text),
    cursor: cursor === undefined ? null : decodeCursor(cursor),
    limit,
  };
}

const view = (row: Row): LogView => ({
  event_id: row.event_id,
  timestamp: row.ts.toISOString(),
  level: row.level,
  command: row.command,
  version: row.version,
  source: row.source,
  message: row.message,
  idempotency_key: row.idempotency_key,
  trace_id: row.trace_id,
});

/** Registers GET /logs, reading kitsune.logs through `pool`. */
export function registerLogRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get('/logs', async (request): Promise<LogPage> => {
    const filters = parseFilters(request.query as Record<string, unknown>);
    const { rows } = await pool.query<Row>(queries.LogsList, [
      filters.levels,
      filters.command,
      filters.source,
      filters.from,
      filters.to,
      filters.pattern,
      filters.cursor?.ts ?? null,
      filters.cursor?.eventId ?? null,
      // One row more than asked: whether it exists says if there is a next page.
      filters.limit + 1,
    ]);
    const page = rows.slice(0, filters.limit);
    const last = page[page.length - 1];
    return {
      logs: page.map(view),
      next_cursor: rows.length > filters.limit && last !== undefined ? encodeCursor(last.ts_exact, last.event_id) : null,
    };
  });
}

/**
 * GET /logs when the log worker sends the lines to Loki (LOKI_URL): they are not in PostgreSQL, so
 * the answer is 404 `logs_in_loki` with the LogQL selector to query them there, not "no route".
 */
export function registerLogsInLoki(app: FastifyInstance, selector: string): void {
  app.get('/logs', () => {
    throw problem(
      'logs_in_loki',
      `the log lines are in Loki (LOKI_URL is set), not here: query them there, e.g. ${selector} in Grafana's Explore or with logcli`,
    );
  });
}
