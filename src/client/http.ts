/**
 * One JSON request with retries. Safe to retry only because every request this client repeats is
 * idempotent: GETs, and POST /execute with the same Idempotency-Key on every attempt (the API
 * derives the event id from it, so a repeat is the same event, never a second one).
 */
import type { ApiErrorCode, FieldError } from '../contract/http.ts';
import { ClientErrorCodes, KitsuneClientError, type KitsuneClientErrorCode } from './errors.ts';
import { parseRetryAfter, pause, retryableStatuses, retryDelayMs, type RetryPolicy } from './retry.ts';

export interface HttpSettings {
  baseUrl: URL;
  apiKey: string | undefined;
  fetch: typeof globalThis.fetch;
  retry: RetryPolicy;
  /** Per attempt, on top of any server-side wait the request asks for. */
  timeoutMs: number;
}

export interface JsonRequest {
  method: 'GET' | 'POST';
  /** Path and query, relative to baseUrl. */
  path: string;
  body?: unknown;
  idempotencyKey?: string | undefined;
  /** Extra time this request may legitimately take (GET /events/:id?wait=). */
  extraTimeoutMs?: number;
  signal?: AbortSignal | undefined;
  /** For messages: "execute create_user". */
  what: string;
}

interface ApiErrorBody {
  error?: { code?: unknown; message?: unknown; field?: unknown; errors?: unknown; id?: unknown; idempotency_key?: unknown };
}

/** Resolves with the parsed body of the first 2xx; throws KitsuneClientError otherwise. */
export async function requestJson(settings: HttpSettings, request: JsonRequest): Promise<unknown> {
  const url = new URL(request.path.replace(/^\//, ''), settings.baseUrl);
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'kitsune-client' };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  if (settings.apiKey !== undefined) headers.authorization = `Bearer ${settings.apiKey}`;
  if (request.idempotencyKey !== undefined) headers['idempotency-key'] = request.idempotencyKey;
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  const { retry } = settings;
  const base = { idempotencyKey: request.idempotencyKey };

  for (let attempt = 1; ; attempt++) {
    const timeout = AbortSignal.timeout(settings.timeoutMs + (request.extraTimeoutMs ?? 0));
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let failure: KitsuneClientError;
    try {
      const response = await settings.fetch(url, { method: request.method, headers, body, signal });
      const text = await response.text();
      if (response.ok) return parseBody(text, request.what, attempt, base);
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      failure = httpError(request.what, response.status, text, { ...base, attempts: attempt, retryAfterMs });
      if (retryAfterMs !== undefined && retryAfterMs > retry.maxRetryAfterMs) throw failure;
    } catch (error) {
      if (error instanceof KitsuneClientError) throw error;
      if (request.signal?.aborted) throw aborted(request.what, attempt, base, error);
      const timedOut = timeout.aborted;
      failure = new KitsuneClientError(
        timedOut
          ? `${request.what}: no answer from ${url.origin} within ${settings.timeoutMs} ms`
          : `${request.what}: could not reach ${url.origin}: ${describe(error)}`,
        { ...base, code: timedOut ? ClientErrorCodes.timeout : ClientErrorCodes.network, status: 0, retryable: true, attempts: attempt, cause: error },
      );
    }
    if (!failure.retryable || attempt > retry.retries) throw failure;
    try {
      await pause(retryDelayMs(attempt, failure.retryAfterMs, retry), request.signal);
    } catch (error) {
      throw aborted(request.what, attempt, base, error);
    }
  }
}

function parseBody(text: string, what: string, attempts: number, base: { idempotencyKey: string | undefined }): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new KitsuneClientError(`${what}: the answer is not JSON: ${text.slice(0, 200)}`, {
      ...base, code: ClientErrorCodes.invalidResponse, status: 200, retryable: false, attempts, cause: error,
    });
  }
}

function httpError(
  what: string,
  status: number,
  text: string,
  details: { idempotencyKey: string | undefined; attempts: number; retryAfterMs: number | undefined },
): KitsuneClientError {
  let problem: ApiErrorBody['error'];
  try {
    problem = (JSON.parse(text) as ApiErrorBody).error;
  } catch {
    problem = undefined;
  }
  const code = typeof problem?.code === 'string' ? (problem.code as ApiErrorCode) : undefined;
  const message = typeof problem?.message === 'string' ? problem.message : `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  return new KitsuneClientError(`${what}: ${message}`, {
    ...details,
    code: code ?? (ClientErrorCodes.http satisfies KitsuneClientErrorCode),
    status,
    retryable: retryableStatuses.has(status),
    field: typeof problem?.field === 'string' ? problem.field : undefined,
    eventId: typeof problem?.id === 'string' ? problem.id : undefined,
    // The key the server used: the caller's (the same), or one it generated for a request without.
    ...(typeof problem?.idempotency_key === 'string' ? { idempotencyKey: problem.idempotency_key } : {}),
    errors: Array.isArray(problem?.errors) ? (problem.errors as FieldError[]) : undefined,
  });
}

function aborted(what: string, attempts: number, base: { idempotencyKey: string | undefined }, cause: unknown): KitsuneClientError {
  return new KitsuneClientError(`${what}: aborted`, { ...base, code: ClientErrorCodes.aborted, status: 0, retryable: false, attempts, cause });
}

/** fetch's TypeError says only "fetch failed"; the cause names the socket error. */
function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
