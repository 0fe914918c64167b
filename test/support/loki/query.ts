/**
 * `GET /loki/api/v1/query_range` for log queries, with Loki's parameters and defaults: `query`,
 * `limit` (100, at most `max_entries_limit_per_query`), `start` (inclusive, default `end` minus
 * `since`, itself 1h), `end` (exclusive, default now), `direction` (`backward`).
 * Timestamps are read as Loki's `parseTimestamp` does: a number with a dot is float seconds, an
 * integer of at most 10 digits is seconds, a longer one nanoseconds, else RFC3339(Nano).
 *
 * Structured metadata in the answer, as Loki 3's marshalling code and tests show it:
 * - by default, each entry's structured metadata is merged into its stream's labels (so entries
 *   with different metadata come back as different streams) and values are `[ts, line]`;
 * - with the header `X-Loki-Response-Encoding-Flags: categorize-labels` (what Grafana sends),
 *   `stream` holds only the stream labels, each value is `[ts, line, {}]` or
 *   `[ts, line, {"structuredMetadata": {...}}]`, and `data.encodingFlags` is
 *   `["categorize-labels"]`.
 * A metadata name that collides with a stream label gets an `_extracted` suffix when merged, as
 * Loki's label builder does for extracted labels. `stats` is a small subset of Loki's.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { LokiHttpError } from './http.ts';
import type { LokiLimits } from './limits.ts';
import { parseLogQuery } from './logql.ts';
import type { LogQuery } from './logql.ts';
import { labelsString } from './messages.ts';
import type { LokiStore, StoredRow, StoredStream } from './store.ts';
import { sortedLabels } from './validate.ts';

export const Directions = { FORWARD: 'forward', BACKWARD: 'backward' } as const;
export type Direction = (typeof Directions)[keyof typeof Directions];

export interface RangeParams {
  readonly query: LogQuery;
  readonly limit: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly direction: Direction;
  readonly categorize: boolean;
}

const nsPerMs = 1_000_000n;
const nsPerSecond = 1_000_000_000n;
const durationUnitsMs = new Map([
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
  ['w', 7 * 86_400_000],
  ['y', 365 * 86_400_000],
]);
const rfc3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

function badRequest(message: string): LokiHttpError {
  return new LokiHttpError(400, message);
}

/** Loki's `loghttp.parseTimestamp`. */
export function parseLokiTimestamp(value: string): bigint {
  if (value.includes('.') && /^-?\d*\.\d*$/.test(value)) {
    const seconds = Number(value);
    const whole = Math.trunc(seconds);
    const ms = Math.round((seconds - whole) * 1000);
    return BigInt(whole) * nsPerSecond + BigInt(ms) * nsPerMs;
  }
  if (/^-?\d+$/.test(value)) return value.length <= 10 ? BigInt(value) * nsPerSecond : BigInt(value);
  const match = rfc3339.exec(value);
  if (match !== null) {
    const [, base = '', fraction = '', zone = ''] = match;
    const ms = Date.parse(`${base}${zone}`);
    if (!Number.isNaN(ms)) return BigInt(ms) * nsPerMs + BigInt(fraction.padEnd(9, '0') || '0');
  }
  throw badRequest(`cannot parse ${JSON.stringify(value)} to a valid timestamp`);
}

function parseDurationMs(value: string): number {
  let total = 0;
  let rest = value;
  while (rest !== '') {
    const part = /^(\d+)(ms|s|m|h|d|w|y)/.exec(rest);
    if (part === null) throw badRequest(`cannot parse ${JSON.stringify(value)} to a valid duration`);
    total += Number(part[1]) * (durationUnitsMs.get(part[2] ?? '') ?? 0);
    rest = rest.slice(part[0].length);
  }
  return total;
}

export function parseRangeParams(url: URL, headers: IncomingHttpHeaders, limits: LokiLimits, nowMs: number): RangeParams {
  const get = (name: string): string => url.searchParams.get(name) ?? '';
  const query = parseLogQuery(get('query'));
  const limit = get('limit') === '' ? 100 : Number(get('limit'));
  if (!Number.isInteger(limit)) throw badRequest(`cannot parse limit ${JSON.stringify(get('limit'))}`);
  if (limit <= 0) throw badRequest('limit must be a positive value');
  if (limit > limits.maxEntriesLimitPerQuery) {
    throw badRequest(`max entries limit per query exceeded, limit > max_entries_limit (${limit} > ${limits.maxEntriesLimitPerQuery})`);
  }
  const endNs = get('end') === '' ? BigInt(nowMs) * nsPerMs : parseLokiTimestamp(get('end'));
  const sinceMs = get('since') === '' ? 3_600_000 : parseDurationMs(get('since'));
  const startNs = get('start') === '' ? endNs - BigInt(sinceMs) * nsPerMs : parseLokiTimestamp(get('start'));
  if (endNs < startNs) throw badRequest('end timestamp must not be before or equal to start time');
  const direction = (get('direction') || Directions.BACKWARD).toLowerCase();
  if (direction !== Directions.FORWARD && direction !== Directions.BACKWARD) throw badRequest(`invalid direction '${get('direction')}'`);
  const flags = String(headers['x-loki-response-encoding-flags'] ?? '').split(',');
  return { query, limit, startNs, endNs, direction, categorize: flags.some((flag) => flag.trim() === 'categorize-labels') };
}

interface Hit {
  readonly stream: StoredStream;
  readonly row: StoredRow;
}

function selected(stream: StoredStream, query: LogQuery): boolean {
  return query.selector.every((matcher) => matcher.matches(stream.labels.get(matcher.name)));
}

function kept(hit: Hit, query: LogQuery, startNs: bigint, endNs: bigint): boolean {
  const { stream, row } = hit;
  if (row.ts < startNs || row.ts >= endNs) return false;
  if (!query.lineFilters.every((filter) => filter.matches(row.line))) return false;
  return query.labelFilters.every((filter) => filter.matches(stream.labels.get(filter.name) ?? row.metadata.get(filter.name)));
}

function mergedLabels(stream: StoredStream, metadata: ReadonlyMap<string, string>): Map<string, string> {
  const labels = new Map(stream.labels);
  for (const [name, value] of metadata) labels.set(stream.labels.has(name) ? `${name}_extracted` : name, value);
  return sortedLabels(labels);
}

/** Runs a range query for one tenant and returns Loki's JSON answer. */
export function queryRange(store: LokiStore, tenant: string, params: RangeParams): unknown {
  const { query, startNs, endNs, direction, categorize } = params;
  const hits: Hit[] = [];
  for (const stream of store.streamsOf(tenant)) {
    if (!selected(stream, query)) continue;
    for (const row of stream.rows) {
      const hit = { stream, row };
      if (kept(hit, query, startNs, endNs)) hits.push(hit);
    }
  }
  const sign = direction === Directions.FORWARD ? 1 : -1;
  hits.sort((a, b) => sign * (a.row.ts < b.row.ts ? -1 : a.row.ts > b.row.ts ? 1 : a.row.seq - b.row.seq));
  const page = hits.slice(0, params.limit);

  const groups = new Map<string, { stream: Record<string, string>; values: unknown[][] }>();
  for (const { stream, row } of page) {
    const labels = categorize ? stream.labels : mergedLabels(stream, row.metadata);
    const key = categorize ? stream.key : labelsString(labels);
    let group = groups.get(key);
    if (group === undefined) {
      group = { stream: Object.fromEntries(labels), values: [] };
      groups.set(key, group);
    }
    const ts = row.ts.toString();
    if (!categorize) group.values.push([ts, row.line]);
    else if (row.metadata.size === 0) group.values.push([ts, row.line, {}]);
    else group.values.push([ts, row.line, { structuredMetadata: Object.fromEntries(row.metadata) }]);
  }
  const result = [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, group]) => group);
  return {
    status: 'success',
    data: {
      resultType: 'streams',
      result,
      ...(categorize ? { encodingFlags: ['categorize-labels'] } : {}),
      stats: { summary: { totalEntriesReturned: page.length } },
    },
  };
}
