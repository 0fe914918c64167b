/**
 * GET /logs: the log lines the log worker kept in kitsune.logs (the mode without LOKI_URL), newest
 * first, one page at a time.
 *
 *   GET /logs?level=ERROR,WARN&command=create_user&source=user-service
 *            &from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&text=timeout&limit=100&cursor=…
 *   GET /logs?event_id=<id>                        the line of one event
 *
 * `from` is inclusive and `to` exclusive (as Loki's query_range); a range that ends before it
 * starts is empty. `text` is a case-insensitive substring of the message; `cursor` is the
 * `next_cursor` of the previous page, which is null on the last one. Paging is by (timestamp,
 * event id), so rows stored meanwhile never shift a page.
 *
 * With API keys on, a key reads its own source's lines only, and asking for anything else answers
 * 404 `not_found`, as GET /events/:id does: `source=` another source (whether or not it exists),
 * or `event_id=` an event not issued to the key's source (another source's, or none at all: the
 * two read alike, so existence does not leak). An admin key reads every source. Limit: `text` scans the rows the other filters leave (no trigram index);
 * narrow by time first.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { LogPage } from '../../contract/http.ts';
import { eventIdSchema, logPageSchema } from '../../contract/schemas.ts';
import { loadQueries } from '../../db/queries.ts';
import { LogLevels, type LogLevel } from '../../events/envelope.ts';
import type { RouteKit } from './execute.ts';
import { readableSource } from './console/scope.ts';
import { logView, type LogRow } from './log-rows.ts';
import { keyRequired } from './openapi.ts';
import { problem } from './problems.ts';
import { errorResponses } from './responses.ts';
import { timestampMs } from './timestamps.ts';

const queries = loadQueries(new URL('./sql/logs.sql', import.meta.url), ['LogsList']);

export const logsLimits = { defaultLimit: 100, maxLimit: 1_000, maxFilterLength: 256 } as const;

interface Query {
  level?: string;
  command?: string;
  source?: string;
  from?: string;
  to?: string;
  text?: string;
  limit?: number;
  cursor?: string;
  event_id?: string;
}

/** A row and its timestamp in microseconds since the Unix epoch, for the cursor. */
type Row = LogRow & { ts_micros: string };

const levels = new Map<string, LogLevel>(LogLevels.flatMap((level) => [[level, level], [level.toLowerCase(), level]]));
const levelName = `(?:${[...levels.keys()].join('|')})`;
/** A filter: no U+0000, which PostgreSQL text cannot hold. */
const filter = (what: string): Record<string, unknown> => ({
  type: 'string',
  minLength: 1,
  maxLength: logsLimits.maxFilterLength,
  pattern: '^[^\\u0000]*$',
  description: what,
});
const timestamp = (what: string): Record<string, unknown> => ({
  type: 'string',
  anyOf: [{ format: 'date' }, { format: 'date-time' }],
  description: `${what}: an RFC 3339 date, or date-time with a zone`,
  examples: ['2026-01-31T12:00:00Z'],
});

const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    level: { type: 'string', pattern: `^${levelName}(?:,${levelName})*$`, description: `One or more of ${LogLevels.join(', ')} (either case), comma-separated`, examples: ['ERROR,WARN'] },
    command: filter('Exactly this command'),
    source: filter('Exactly this source. With API keys on, only the key\'s own (an admin key: any); another answers 404'),
    event_id: { ...eventIdSchema, description: 'The line of this event only. With API keys on, an event not issued to the key\'s source answers 404 (an admin key: any)' },
    from: timestamp('Lines at or after this time'),
    to: timestamp('Lines before this time'),
    text: filter('A case-insensitive substring of the message'),
    limit: { type: 'integer', minimum: 1, maximum: logsLimits.maxLimit, description: `Lines per page (Default: ${logsLimits.defaultLimit})` },
    cursor: { type: 'string', pattern: '^-?(?:0|[1-9][0-9]{0,15})~[^\\u0000]{1,512}$', description: 'next_cursor of the previous page, unchanged' },
  },
};

/** The cursor: microseconds since the Unix epoch and the event id of the last row, joined by `~`. */
export const encodeCursor = (tsMicros: string, eventId: string): string => `${tsMicros}~${eventId}`;

function decodeCursor(value: string): { micros: string; eventId: string } {
  const at = value.indexOf('~');
  return { micros: value.slice(0, at), eventId: value.slice(at + 1) };
}

/** ILIKE pattern for a substring: the user's %, _ and \ match themselves. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

const empty: LogPage = { logs: [], next_cursor: null };

/** Registers GET /logs, reading kitsune.logs through `pool`. */
export function registerLogRoutes(app: FastifyInstance, pool: pg.Pool, kit: RouteKit): void {
  app.get<{ Querystring: Query }>('/logs', {
    onRequest: kit.authenticate,
    schema: {
      operationId: 'listLogs',
      summary: 'Log lines kept in PostgreSQL (when LOKI_URL is unset), newest first, a page at a time',
      tags: ['logs'],
      ...(kit.keysOn ? { security: keyRequired } : {}),
      querystring: querySchema,
      response: {
        200: { description: 'A page of lines', content: { 'application/json': { schema: logPageSchema } } },
        ...errorResponses(400, ...(kit.keysOn ? [401, 404] : [])),
      },
    },
  }, async (request): Promise<LogPage> => {
    const query = request.query;
    const eventId = query.event_id?.toLowerCase();
    // A key reads its own source's lines; an admin key (the console's operators) reads every source's.
    const ownSource = readableSource(request);
    if (ownSource !== undefined) {
      // Not 200 with no lines: that would say the source or event has none, which is not this key's to know.
      if (query.source !== undefined && query.source !== ownSource) {
        throw problem('not_found', `no source ${query.source} for this key`, '/source', undefined, 'query');
      }
      if (eventId !== undefined && !kit.ids.issuedTo(eventId, ownSource)) {
        throw problem('not_found', `no event ${query.event_id} for this key`, '/event_id', undefined, 'query');
      }
    }
    const from = query.from === undefined ? null : timestampMs(query.from);
    const to = query.to === undefined ? null : timestampMs(query.to);
    if (from !== null && to !== null && from >= to) return empty;
    const limit = query.limit ?? logsLimits.defaultLimit;
    const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const { rows } = await pool.query<Row>(queries.LogsList, [
      query.level === undefined ? null : query.level.split(',').map((name) => levels.get(name)),
      query.command ?? null,
      ownSource ?? query.source ?? null,
      from === null ? null : new Date(from).toISOString(),
      to === null ? null : new Date(to).toISOString(),
      query.text === undefined ? null : containsPattern(query.text),
      cursor?.micros ?? null,
      cursor?.eventId ?? null,
      // One row more than asked: whether it exists says if there is a next page.
      limit + 1,
      eventId ?? null,
    ]);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      logs: page.map(logView),
      next_cursor: rows.length > limit && last !== undefined ? encodeCursor(last.ts_micros, last.event_id) : null,
    };
  });
}

/**
 * GET /logs when the log worker sends the lines to Loki (LOKI_URL): they are not in PostgreSQL, so
 * the answer is 404 `logs_in_loki` with the LogQL selector to query them there, not "no route".
 */
export function registerLogsInLoki(app: FastifyInstance, selector: string, kit: RouteKit): void {
  app.get('/logs', {
    onRequest: kit.authenticate,
    schema: {
      operationId: 'listLogs',
      summary: 'Log lines are in Loki (LOKI_URL is set): the answer says how to query them there',
      tags: ['logs'],
      ...(kit.keysOn ? { security: keyRequired } : {}),
      response: errorResponses(...(kit.keysOn ? [401] : []), 404),
    },
  }, () => {
    throw problem(
      'logs_in_loki',
      `the log lines are in Loki (LOKI_URL is set), not here: query them there, e.g. ${selector} in Grafana's Explore or with logcli`,
    );
  });
}
