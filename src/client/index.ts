/**
 * A typed client for Kitsune's HTTP API, for the services that send it commands:
 *
 *   const kitsune = createClient({ baseUrl: 'http://127.0.0.1:8080' });
 *   const { id, result } = await kitsune.execute('create_user', { name: 'Ada', email: 'ada@example.com' }, { wait: 5 });
 *
 * Retries 429, 502, 503, 504, timeouts and network errors with full-jitter backoff, never sooner
 * than Retry-After, and every attempt of one execute() carries the same Idempotency-Key (one is
 * generated when the caller gives none), so a retry can never apply a command twice. To retry
 * later yourself, pass the key back: it is on the result and on KitsuneClientError.
 *
 * Runs on the global fetch and crypto.randomUUID (Node 20+, Deno, browsers); imports nothing else
 * at runtime (the Kitsune types it names are erased).
 */
import type { Accepted, EventView } from '../contract/http.ts';
import { ClientErrorCodes, KitsuneClientError } from './errors.ts';
import { requestJson, type HttpSettings } from './http.ts';
import { retryDefaults, type RetryPolicy } from './retry.ts';

export { ClientErrorCodes, KitsuneClientError, type ClientErrorCode, type KitsuneClientErrorCode } from './errors.ts';
export { retryDefaults, type RetryPolicy } from './retry.ts';
export type { Accepted, ApiErrorCode, ApiProblem, EventView, FieldError } from '../contract/http.ts';

/** Payload type per command name. Declare yours for compile-time checks: `createClient<MyCommands>(...)`. */
export type CommandPayloads = Record<string, Record<string, unknown>>;

export interface ClientOptions {
  /** Where the API listens, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string | URL;
  /** Sent as `Authorization: Bearer <key>` when the API has KITSUNE_API_KEYS_FILE. (Default: none) */
  apiKey?: string;
  /** Retries after the first attempt. (Default: 3) */
  retries?: number;
  /** Backoff bounds and the longest Retry-After honoured. (Default: retryDefaults) */
  backoff?: Partial<Omit<RetryPolicy, 'retries'>>;
  /** Longest wait for one answer, on top of a requested `wait`. (Default: 10_000 ms) */
  timeoutMs?: number;
  /** metadata.source of every command, when the API has no API keys (a key fixes the source). (Default: none) */
  source?: string;
  /** (Default: globalThis.fetch) */
  fetch?: typeof globalThis.fetch;
}

export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';

export interface ExecuteOptions {
  /** The command's registry version. (Default: '1') */
  version?: string | number;
  /** Makes the command idempotent across calls: same key, same event. (Default: a new UUID per call) */
  idempotencyKey?: string;
  /** Seconds to wait for the DB worker's result (GET /events/:id?wait=). (Default: 0, return once accepted) */
  wait?: number;
  /** The log line that goes to app-logs. (Default: the API's `<command> accepted` at INFO) */
  log?: { level: LogLevel; message: string };
  /** Overrides ClientOptions.source for this call. */
  source?: string;
  signal?: AbortSignal;
}

/** GET /events/:id: `pending` until the DB worker stored an outcome. */
export type EventResult = EventView;

export interface ExecuteResult extends Accepted {
  /** Present when `wait` was given: the outcome, or `pending` if none came in time. */
  result?: EventResult;
}

export interface KitsuneClient<Commands extends CommandPayloads = CommandPayloads> {
  /** Sends one command; resolves once it is durable (202), or with its result when `wait` is set. */
  execute<C extends Extract<keyof Commands, string>>(command: C, payload: Commands[C], options?: ExecuteOptions): Promise<ExecuteResult>;
  /** The event's outcome; with `wait`, long-polls up to that many seconds for one. */
  getEvent(id: string, options?: { wait?: number; signal?: AbortSignal }): Promise<EventResult>;
}

/** The API holds a long poll at most this long; longer waits are several polls. */
const maxServerWaitSeconds = 30;

export function createClient<Commands extends CommandPayloads = CommandPayloads>(options: ClientOptions): KitsuneClient<Commands> {
  const baseUrl = new URL(options.baseUrl);
  if (!baseUrl.pathname.endsWith('/')) baseUrl.pathname += '/';
  const retries = options.retries ?? retryDefaults.retries;
  if (!Number.isInteger(retries) || retries < 0) throw new TypeError(`retries must be a non-negative integer, got ${retries}`);
  const settings: HttpSettings = {
    baseUrl,
    apiKey: options.apiKey,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    retry: { ...retryDefaults, ...options.backoff, retries },
    timeoutMs: options.timeoutMs ?? 10_000,
  };

  const getEvent = async (id: string, opts: { wait?: number; signal?: AbortSignal } = {}): Promise<EventResult> => {
    const deadline = Date.now() + Math.max(0, opts.wait ?? 0) * 1_000;
    for (;;) {
      const seconds = Math.min(maxServerWaitSeconds, Math.max(0, (deadline - Date.now()) / 1_000));
      const query = seconds > 0 ? `?wait=${seconds.toFixed(3)}` : '';
      const body = await requestJson(settings, {
        method: 'GET',
        path: `events/${encodeURIComponent(id)}${query}`,
        extraTimeoutMs: seconds * 1_000,
        signal: opts.signal,
        what: `get event ${id}`,
      });
      const result = asEventResult(body, id);
      if (result.status !== 'pending' || Date.now() >= deadline) return result;
    }
  };

  return {
    async execute(command, payload, opts = {}) {
      const idempotencyKey = opts.idempotencyKey ?? globalThis.crypto.randomUUID();
      const source = opts.source ?? options.source;
      const body = {
        command,
        version: String(opts.version ?? '1'),
        payload,
        ...(opts.log ? { log: opts.log } : {}),
        ...(source ? { metadata: { source } } : {}),
      };
      const accepted = asAccepted(
        await requestJson(settings, { method: 'POST', path: 'execute', body, idempotencyKey, signal: opts.signal, what: `execute ${command}` }),
        idempotencyKey,
      );
      if (opts.wait === undefined || opts.wait <= 0) return accepted;
      return { ...accepted, result: await getEvent(accepted.id, { wait: opts.wait, ...(opts.signal ? { signal: opts.signal } : {}) }) };
    },
    getEvent,
  };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function asAccepted(body: unknown, idempotencyKey: string): Accepted {
  if (isRecord(body) && typeof body.id === 'string' && body.status === 'accepted') return body as unknown as Accepted;
  throw new KitsuneClientError(`execute: the 2xx answer is not an accepted command: ${JSON.stringify(body).slice(0, 200)}`, {
    code: ClientErrorCodes.invalidResponse, status: 202, retryable: false, attempts: 1, idempotencyKey,
  });
}

function asEventResult(body: unknown, id: string): EventResult {
  if (isRecord(body) && typeof body.id === 'string' && typeof body.status === 'string') return body as unknown as EventResult;
  throw new KitsuneClientError(`get event ${id}: the answer is not an event: ${JSON.stringify(body).slice(0, 200)}`, {
    code: ClientErrorCodes.invalidResponse, status: 200, retryable: false, attempts: 1,
  });
}
