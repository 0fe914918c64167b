/**
 * The console's only way to the server: the same JSON API users call. The API key, when this
 * Kitsune asks for one, lives in sessionStorage (gone when the tab closes) and goes out as
 * `Authorization: Bearer`.
 */
const keyName = 'kitsune-console-key';

export interface Problem {
  code: string;
  message: string;
  field?: string;
  errors?: Array<{ field: string; message: string }>;
}

export class ApiFailure extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(problem.message);
    this.status = status;
    this.problem = problem;
  }
}

export const apiKey = {
  get: (): string | null => sessionStorage.getItem(keyName),
  set: (key: string): void => sessionStorage.setItem(keyName, key),
  clear: (): void => sessionStorage.removeItem(keyName),
};

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called whenever the server answers 401: the console then asks for a key. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export interface Answer<T> {
  status: number;
  body: T;
}

/** Sends a request; resolves with any answer whose body is JSON (4xx included, for the send form). */
export async function exchange<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const key = apiKey.get();
  const response = await fetch(path, {
    method,
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) for (const listener of unauthorizedListeners) listener();
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = { error: { code: 'not_json', message: `${response.status} ${response.statusText}: ${text.slice(0, 200)}` } };
  }
  return { status: response.status, body: parsed as T };
}

/** Sends a request; resolves with a 2xx body, rejects with ApiFailure otherwise. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const answer = await exchange<T | { error: Problem }>(method, path, body);
  if (answer.status >= 200 && answer.status < 300) return answer.body as T;
  const problem = (answer.body as { error?: Problem } | null)?.error ?? { code: 'http_error', message: `HTTP ${answer.status}` };
  throw new ApiFailure(answer.status, problem);
}

export const get = <T>(path: string): Promise<T> => call<T>('GET', path);
export const post = <T>(path: string, body: unknown): Promise<T> => call<T>('POST', path, body);

/** A message for people from anything thrown. */
export function describe(error: unknown): string {
  if (error instanceof ApiFailure) return `${error.problem.message} (${error.status} ${error.problem.code})`;
  return error instanceof Error ? error.message : String(error);
}
