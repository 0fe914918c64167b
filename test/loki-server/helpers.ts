/**
 * Test helpers for the Loki test server's own suite: a server per test that the helper closes,
 * and thin push/query clients over fetch. Traffic goes to 127.0.0.1 only.
 */
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { startLokiServer } from '../support/loki/index.ts';
import type { LokiServerOptions, LokiTestServer } from '../support/loki/index.ts';

const gzipAsync = promisify(gzip);

export async function startLoki(t: TestContext, options: LokiServerOptions = {}): Promise<LokiTestServer> {
  const loki = await startLokiServer(options);
  t.after(() => loki.close());
  return loki;
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export const secondNs = 1_000_000_000n;
export const minuteNs = 60n * secondNs;
export const hourNs = 60n * minuteNs;

export type JsonValue = [string, string] | [string, string, Record<string, string>];

export interface JsonStream {
  stream: Record<string, string>;
  values: JsonValue[];
}

/** A push stream; `entries` are `[ts, line]` or `[ts, line, metadata]` with a bigint ts. */
export function stream(labels: Record<string, string>, ...entries: ([bigint, string] | [bigint, string, Record<string, string>])[]): JsonStream {
  return {
    stream: labels,
    values: entries.map(([ts, line, metadata]): JsonValue => (metadata === undefined ? [ts.toString(), line] : [ts.toString(), line, metadata])),
  };
}

export interface PushOptions {
  tenant?: string;
  gzip?: boolean;
  /** null sends no Content-Type. (Default: application/json) */
  contentType?: string | null;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

export async function pushBody(loki: LokiTestServer, body: string | Buffer, options: PushOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
  if (contentType !== null) headers['Content-Type'] = contentType;
  if (options.tenant !== undefined) headers['X-Scope-OrgID'] = options.tenant;
  let payload = typeof body === 'string' ? Buffer.from(body) : body;
  if (options.gzip === true) {
    payload = await gzipAsync(payload);
    headers['Content-Encoding'] = 'gzip';
  }
  const response = await fetch(`${loki.url}/loki/api/v1/push`, {
    method: 'POST',
    headers,
    body: payload,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

export function push(loki: LokiTestServer, streams: JsonStream[], options: PushOptions = {}): Promise<Answer> {
  return pushBody(loki, JSON.stringify({ streams }), options);
}

export interface QueryOptions {
  start?: string;
  end?: string;
  limit?: number;
  direction?: 'forward' | 'backward';
  tenant?: string;
  categorize?: boolean;
}

export interface QueryAnswer {
  status: number;
  text: string;
  /** Parsed when the status is 200. */
  result: { stream: Record<string, string>; values: unknown[][] }[];
  data: Record<string, unknown>;
}

export async function queryRange(loki: LokiTestServer, query: string, options: QueryOptions = {}): Promise<QueryAnswer> {
  const params = new URLSearchParams({ query });
  if (options.start !== undefined) params.set('start', options.start);
  if (options.end !== undefined) params.set('end', options.end);
  if (options.limit !== undefined) params.set('limit', String(options.limit));
  if (options.direction !== undefined) params.set('direction', options.direction);
  const headers: Record<string, string> = {};
  if (options.tenant !== undefined) headers['X-Scope-OrgID'] = options.tenant;
  if (options.categorize === true) headers['X-Loki-Response-Encoding-Flags'] = 'categorize-labels';
  const response = await fetch(`${loki.url}/loki/api/v1/query_range?${params.toString()}`, { headers });
  const text = await response.text();
  if (response.status !== 200) return { status: response.status, text, result: [], data: {} };
  const body = JSON.parse(text) as { status: string; data: Record<string, unknown> & { result: QueryAnswer['result'] } };
  return { status: response.status, text, result: body.data.result, data: body.data };
}

/** Lines of a query answer, in answer order, streams concatenated. */
export function linesOf(answer: QueryAnswer): string[] {
  return answer.result.flatMap((s) => s.values.map((value) => String(value[1])));
}
