/**
 * One push to Loki's `POST /loki/api/v1/push`: JSON, gzip-compressed unless told not to, one stream per request,
 * optional `X-Scope-OrgID`, a deadline. It never retries; the batcher decides what a failure means.
 *
 * One stream per request on purpose: when a push carries several streams, Loki answers with the
 * ingester's result for the LAST stream only, so entries refused in an earlier stream (out of
 * order, too far behind, per-stream rate limit) can be lost behind a 204 (docs/loki-test-server.md).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { constants as zlibConstants, gzip } from 'node:zlib';
import { toError } from '../errors.ts';
import { LokiFailures, LokiPushError, failureOfStatus } from './errors.ts';
import type { LokiEntry, LokiLabels } from './types.ts';

export interface LokiClientOptions {
  /** LOKI_URL: Loki's base URL (`http://loki:3100`) or the full push URL. User info becomes Basic auth. */
  url: string;
  /** Sent as X-Scope-OrgID (multi-tenant Loki, Grafana Cloud). (Default: not sent) */
  tenant?: string | undefined;
  /** A push not answered within this is abandoned and reported as a retryable timeout. (Default: 10_000 ms) */
  timeoutMs?: number;
  /**
   * `gzip`, or `none`: the JSON as it is, which Loki's push API takes as well (no
   * Content-Encoding). Compressing is most of a push's CPU; off, a push is about 6x the bytes.
   * (Default: 'gzip')
   */
  compression?: LokiCompression;
}

export type LokiCompression = 'gzip' | 'none';

/** What the batcher needs from a client; tests may substitute their own. */
export interface LokiPusher {
  /** Resolves when Loki answered 2xx; otherwise throws a LokiPushError. `signal` aborts the request. */
  push(labels: LokiLabels, entries: readonly LokiEntry[], signal?: AbortSignal): Promise<void>;
}

const pushPath = '/loki/api/v1/push';
/** Loki's error texts are short; a proxy's HTML page is not worth more than this. */
const maxErrorTextBytes = 8_192;
/** Longest Retry-After honoured: a gateway asking for an hour would otherwise park the worker. */
export const maxRetryAfterMs = 300_000;
const gzipAsync = promisify(gzip);
/**
 * Level 1: most of gzip's ratio on repetitive log JSON at a fraction of level 6's CPU; the worker
 * is CPU-bound before the network is on loopback or in a cluster. An 8 KiB window and memLevel 6
 * instead of zlib's 32 KiB and 8: each push starts a new stream, whose state is then 64 KiB to
 * allocate and clear instead of 256 KiB, and a push's lines repeat each other within a few lines
 * (same ratio on the bench's lines, 0.146 against 0.151; 14 % less CPU in isolation).
 */
const gzipOptions = { level: zlibConstants.Z_BEST_SPEED, windowBits: 13, memLevel: 6 };

export const lokiClientDefaults = { timeoutMs: 10_000, compression: 'gzip' } as const satisfies Required<Pick<LokiClientOptions, 'timeoutMs' | 'compression'>>;

/** Splits LOKI_URL into the push URL and, if it carried user info, a Basic Authorization header. */
function resolveEndpoint(raw: string): { url: string; authorization: string | undefined } {
  const url = new URL(raw);
  let authorization: string | undefined;
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  if (!url.pathname.endsWith(pushPath)) url.pathname = `${url.pathname.replace(/\/+$/, '')}${pushPath}`;
  return { url: url.toString(), authorization };
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3), in ms, capped; undefined if absent or bad. */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - nowMs;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), maxRetryAfterMs);
}

function hasKeys(record: Readonly<Record<string, string>>): boolean {
  for (const _ in record) return true;
  return false;
}

/** The push body for one stream: Loki's JSON format, timestamps as decimal strings. */
export function encodePushBody(labels: LokiLabels, entries: readonly LokiEntry[]): string {
  const values = entries.map((entry) => (hasKeys(entry.metadata) ? [entry.ts.toString(), entry.line, entry.metadata] : [entry.ts.toString(), entry.line]));
  return JSON.stringify({ streams: [{ stream: labels, values }] });
}

/** Loki's answer: its status, Retry-After, and the start of its text when it is not a 2xx. */
interface Answer {
  status: number;
  retryAfter: string | undefined;
  text: string;
}

/** Reads `response` to its end (so the connection is reused), keeping the first bytes of an error's text. */
function answerOf(response: IncomingMessage): Promise<Answer> {
  const status = response.statusCode ?? 0;
  const retryAfter = response.headers['retry-after'];
  const keep = status < 200 || status > 299;
  const chunks: Buffer[] = [];
  let kept = 0;
  return new Promise((resolve, reject) => {
    response.on('data', (chunk: Buffer) => {
      if (!keep || kept > maxErrorTextBytes) return;
      chunks.push(chunk);
      kept += chunk.length;
    });
    response.on('error', reject);
    response.once('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status, retryAfter, text: text.length > maxErrorTextBytes ? `${text.slice(0, maxErrorTextBytes)}…` : text.trim() });
    });
  });
}

/** Marks the request destroyed by the push's deadline, as opposed to the caller's signal or the network. */
class DeadlinePassed extends Error {}

/**
 * Pushes go over node:http(s) with a keep-alive agent rather than fetch(): a push is one POST of
 * one Buffer, and fetch's streams, Request and Response objects cost the worker more CPU per push
 * than the rest of the request (decision 0051).
 */
export class LokiClient implements LokiPusher {
  readonly #url: string;
  readonly #target: URL;
  readonly #request: typeof httpRequest;
  readonly #agent: HttpAgent;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #timeoutMs: number;
  readonly #gzip: boolean;

  constructor(options: LokiClientOptions) {
    const { url, authorization } = resolveEndpoint(options.url);
    this.#url = url;
    this.#target = new URL(url);
    const https = this.#target.protocol === 'https:';
    this.#request = https ? httpsRequest : httpRequest;
    this.#agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.#timeoutMs = options.timeoutMs ?? lokiClientDefaults.timeoutMs;
    this.#gzip = (options.compression ?? lokiClientDefaults.compression) === 'gzip';
    this.#headers = {
      'content-type': 'application/json',
      ...(this.#gzip ? { 'content-encoding': 'gzip' } : {}),
      ...(options.tenant === undefined ? {} : { 'x-scope-orgid': options.tenant }),
      ...(authorization === undefined ? {} : { authorization }),
    };
  }

  /** The push URL, without credentials (for logs). */
  get url(): string {
    return this.#url;
  }

  async push(labels: LokiLabels, entries: readonly LokiEntry[], signal?: AbortSignal): Promise<void> {
    const json = encodePushBody(labels, entries);
    const body = this.#gzip ? await gzipAsync(json, gzipOptions) : Buffer.from(json, 'utf8');
    let answer: Answer;
    try {
      answer = await this.#post(body, signal);
    } catch (thrown) {
      if (thrown instanceof DeadlinePassed) {
        throw new LokiPushError(LokiFailures.timeout, `Loki did not answer a push of ${entries.length} entries within ${this.#timeoutMs} ms`, {
          cause: thrown,
        });
      }
      const error = toError(thrown);
      const detail = error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
      throw new LokiPushError(LokiFailures.network, `push to Loki failed: ${detail}`, { cause: thrown });
    }
    const { status, text } = answer;
    if (status >= 200 && status <= 299) return;
    throw new LokiPushError(failureOfStatus(status), `Loki answered ${status}${text === '' ? '' : `: ${text}`}`, {
      status,
      retryAfterMs: parseRetryAfter(answer.retryAfter ?? null),
    });
  }

  /** One POST of `body`, answered within the timeout; rejects on the network, the deadline (DeadlinePassed) or `signal`. */
  #post(body: Buffer, signal: AbortSignal | undefined): Promise<Answer> {
    const headers: OutgoingHttpHeaders = { ...this.#headers, 'content-length': body.length };
    return new Promise<Answer>((resolve, reject) => {
      let timedOut = false;
      let settled = false;
      const settle = (error: Error | undefined, answer?: Answer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (error === undefined) resolve(answer!);
        else reject(timedOut ? new DeadlinePassed(`no answer within ${this.#timeoutMs} ms`, { cause: error }) : error);
      };
      const request = this.#request(this.#target, { method: 'POST', headers, agent: this.#agent, signal }, (response) => {
        answerOf(response).then(
          (answer) => settle(undefined, answer),
          (error: Error) => settle(error),
        );
      });
      const deadline = setTimeout(() => {
        timedOut = true;
        request.destroy(new Error('the push deadline passed'));
      }, this.#timeoutMs);
      // on(), not once(): a second 'error' after the first must not go unhandled.
      request.on('error', (error) => settle(error));
      // Whatever ended the exchange, the promise settles: an answer read to its end settles first.
      request.once('close', () => setImmediate(() => settle(new Error('the connection closed before Loki answered'))));
      request.end(body);
    });
  }
}
