/**
 * The event that travels on `db-events` and `app-logs`: the seed's envelope, unchanged in shape,
 * so consumers written for the seed keep working.
 */
import { ErrorCodes, KitsuneError } from '../errors.ts';
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

function invalid(reason: string): KitsuneError {
  return new KitsuneError(ErrorCodes.INVALID_MESSAGE, `malformed event: ${reason}`, { retryable: false });
}

/**
 * Parses and checks the envelope of a consumed record, plain JSON or in Confluent's wire format
 * (wire-format.ts). Throws a non-retryable INVALID_MESSAGE error naming the first problem, so the
 * record is dead-lettered with that reason.
 */
export function decodeEvent(bytes: Buffer): CommandEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse((unframe(bytes)?.json ?? bytes).toString('utf8'));
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
  return parsed as unknown as CommandEvent;
}
