/**
 * The event that travels on `db-events` and `app-logs`: the seed's envelope, unchanged in shape,
 * so consumers written for the seed keep working.
 */
import { ErrorCodes, KitsuneError } from '../errors.ts';
import { unstorableIn } from './text.ts';
import { unframe } from './wire-format.ts';

export const LogLevels = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type LogLevel = (typeof LogLevels)[number];

export interface CommandEvent {
  id: string;
  command: string;
  version: string;
  payload: Record<string, unknown>;
  log: { level: LogLevel; message: string };
  metadata: {
    idempotency_key: string;
    /** When the API accepted the command, ISO 8601 UTC. */
    timestamp: string;
    source: string;
  };
}

/** Header names on every event record, so consumers can route and trace without parsing. */
export const eventHeaders = {
  command: 'kitsune-command',
  version: 'kitsune-version',
  traceparent: 'traceparent',
} as const;

export function encodeEvent(event: CommandEvent): Buffer {
  return Buffer.from(JSON.stringify(event), 'utf8');
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Deepest nesting accepted in a payload: the API refuses bodies deeper than KITSUNE_MAX_JSON_DEPTH
 * (at most 256), so only another producer can send more, and hashing or binding a much deeper
 * value would exhaust the stack.
 */
export const maxPayloadDepth = 256;

function invalid(reason: string): KitsuneError {
  return new KitsuneError(ErrorCodes.INVALID_MESSAGE, `malformed event: ${reason}`, { retryable: false });
}

/**
 * `payload.tags[2]`, `payload["a b"]`: where a problem is, readable and unambiguous. JSON.stringify
 * writes U+0000 and lone surrogates as escapes, so the path itself is always storable.
 */
function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * The first string (value or property name) under `value` that PostgreSQL cannot store, or a
 * nesting deeper than `maxDepth`, as "<path> <problem>". Iterative, so no input can overflow
 * the stack.
 */
export function unstorableValue(value: unknown, path: string, maxDepth = maxPayloadDepth): string | undefined {
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value, path, depth: 0 }];
  for (let item = pending.pop(); item; item = pending.pop()) {
    const { value: current, path: at, depth } = item;
    if (typeof current === 'string') {
      const problem = unstorableIn(current);
      if (problem) return `${at} ${problem}`;
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= maxDepth) return `${at} is nested deeper than ${maxDepth} levels`;
    const entries: Array<[string | number, unknown]> = Array.isArray(current) ? current.map((v, i) => [i, v]) : Object.entries(current);
    // Reversed onto the stack, so the first problem in document order is the one reported.
    for (const [key, child] of entries.reverse()) {
      if (typeof key === 'string') {
        const problem = unstorableIn(key);
        if (problem) return `${childPath(at, key)} (the property name) ${problem}`;
      }
      pending.push({ value: child, path: childPath(at, key), depth: depth + 1 });
    }
  }
  return undefined;
}

/** Whether a container under `value` sits `maxDepth` or more levels down; as unstorableValue's depth rule, without paths. */
function nestedTooDeep(value: unknown, maxDepth = maxPayloadDepth): boolean {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let item = pending.pop(); item; item = pending.pop()) {
    if (typeof item.value !== 'object' || item.value === null) continue;
    if (item.depth >= maxDepth) return true;
    for (const child of Array.isArray(item.value) ? item.value : Object.values(item.value)) pending.push({ value: child, depth: item.depth + 1 });
  }
  return false;
}

/**
 * Parses and checks the envelope of a consumed record, plain JSON or in Confluent's wire format
 * (wire-format.ts). Throws a non-retryable INVALID_MESSAGE error naming the first problem, so the
 * record is dead-lettered with that reason. Beyond the
 * shape, no string anywhere in the event may hold what PostgreSQL cannot store (U+0000, a lone
 * surrogate): the API refuses those with 400, and a record from another producer that carries
 * one is refused here rather than failing, or silently changing, inside PostgreSQL.
 */
export function decodeEvent(bytes: Buffer): CommandEvent {
  let parsed: unknown;
  let text: string;
  try {
    text = (unframe(bytes)?.json ?? bytes).toString('utf8');
    parsed = JSON.parse(text);
  } catch (error) {
    throw new KitsuneError(ErrorCodes.INVALID_MESSAGE, 'malformed event: not JSON', { retryable: false, cause: error });
  }
  if (!isRecord(parsed)) throw invalid('not a JSON object');
  const { id, command, version, payload, log, metadata } = parsed;
  if (typeof id !== 'string' || id === '') throw invalid('id is missing');
  if (typeof command !== 'string' || command === '') throw invalid('command is missing');
  if (typeof version !== 'string' || version === '') throw invalid('version is missing');
  if (!isRecord(payload)) throw invalid('payload is not an object');
  if (!isRecord(log) || typeof log.message !== 'string' || !LogLevels.includes(log.level as LogLevel)) {
    throw invalid('log must have a level and a message');
  }
  if (!isRecord(metadata) || typeof metadata.idempotency_key !== 'string' || typeof metadata.source !== 'string' || typeof metadata.timestamp !== 'string') {
    throw invalid('metadata must have idempotency_key, source and timestamp');
  }
  if (!text.includes('\\u')) {
    // JSON can carry U+0000 or a lone surrogate only as a \u escape (raw control characters are
    // not JSON, a surrogate's UTF-8 bytes decode to U+FFFD), so without one no string needs the
    // walk below: it was a tenth of the log worker's CPU. An escaped backslash before a `u` only
    // sends an event the long way. What is left is the nesting, which needs maxPayloadDepth
    // opening and closing brackets to go too deep.
    if (text.length >= 2 * maxPayloadDepth && nestedTooDeep(payload)) throw invalid(unstorableValue(payload, 'payload') ?? 'payload is nested too deep');
    return parsed as unknown as CommandEvent;
  }
  const fields: Array<[string, string]> = [
    ['id', id],
    ['command', command],
    ['version', version],
    ['log.message', log.message],
    ['metadata.idempotency_key', metadata.idempotency_key],
    ['metadata.source', metadata.source],
    ['metadata.timestamp', metadata.timestamp],
  ];
  for (const [field, value] of fields) {
    const problem = unstorableIn(value);
    if (problem) throw invalid(`${field} ${problem}`);
  }
  const inPayload = unstorableValue(payload, 'payload');
  if (inPayload) throw invalid(inPayload);
  return parsed as unknown as CommandEvent;
}
