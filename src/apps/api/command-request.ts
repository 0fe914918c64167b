/**
 * Turns one request body into an event ready to publish, or an ApiError naming the field at
 * fault. Nothing here touches the broker: a command that fails any check produces no record.
 */
import type { CommandEntry, Registry } from '../../commands/index.ts';
import { eventHeaders, LogLevels, type CommandEvent, type LogLevel } from '../../events/envelope.ts';
import { idempotentEventId, newEventId } from '../../events/ids.ts';
import type { OutgoingMessage } from '../../transport/types.ts';
import { problem, type FieldError } from './problems.ts';

export interface RequestContext {
  /** Set by the API key; when present the body's metadata.source is ignored. */
  source: string | undefined;
  /** Commands the caller may run; undefined when access is open. */
  allowedCommands: ReadonlySet<string> | undefined;
  /** The Idempotency-Key header, if sent. */
  idempotencyKey: string | undefined;
  /** The caller's W3C traceparent, continued on the event. */
  traceparent: string;
  now: Date;
}

export interface CommandLimits {
  logMessageMaxBytes: number;
}

export interface PreparedCommand {
  event: CommandEvent;
  /** The db-events record (keyed by entity) and the app-logs record (unkeyed). */
  dbRecord: OutgoingMessage;
  logRecord: OutgoingMessage;
}

const topLevelKeys = new Set(['command', 'version', 'payload', 'log', 'metadata']);
const metadataKeys = new Set(['idempotency_key', 'source']);
const logKeys = new Set(['level', 'message']);
const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;
const sourcePattern = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
const levels = new Map<string, LogLevel>(LogLevels.map((level) => [level, level]));

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function onlyKnownKeys(value: Record<string, unknown>, known: ReadonlySet<string>, at: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw problem('invalid_request', `unknown field "${key}"; allowed: ${[...known].join(', ')}`, `${at}/${key}`);
  }
}

function lookUp(registry: Registry, command: unknown, version: unknown, at: string): CommandEntry {
  if (typeof command !== 'string' || command === '') throw problem('invalid_request', 'command is required and must be a string', `${at}/command`);
  const normalised = typeof version === 'number' && Number.isInteger(version) ? String(version) : version;
  if (typeof normalised !== 'string' || !/^[1-9][0-9]{0,8}$/.test(normalised)) {
    throw problem('invalid_request', 'version is required: a positive integer, as a string or a number', `${at}/version`);
  }
  const known = registry.versions(command);
  if (known.length === 0) throw problem('unknown_command', `unknown command "${command}"; GET /commands lists the commands`, `${at}/command`);
  const entry = registry.get(command, normalised);
  if (!entry) throw problem('unknown_version', `command "${command}" has no version ${normalised}; known versions: ${known.join(', ')}`, `${at}/version`);
  return entry;
}

function readLog(log: unknown, command: string, limits: CommandLimits, at: string): CommandEvent['log'] {
  if (log === undefined) return { level: 'INFO', message: `${command} accepted` };
  if (!isRecord(log)) throw problem('invalid_log', 'log must be an object with level and message', `${at}/log`);
  for (const key of Object.keys(log)) {
    if (!logKeys.has(key)) throw problem('invalid_log', `unknown field "${key}" in log; allowed: level, message`, `${at}/log/${key}`);
  }
  const level = typeof log.level === 'string' ? levels.get(log.level.toUpperCase()) : undefined;
  if (!level) throw problem('invalid_log', `log.level must be one of ${LogLevels.join(', ')}`, `${at}/log/level`);
  if (typeof log.message !== 'string') throw problem('invalid_log', 'log.message must be a string', `${at}/log/message`);
  const bytes = Buffer.byteLength(log.message, 'utf8');
  if (bytes > limits.logMessageMaxBytes) {
    throw problem('log_message_too_long', `log.message is ${bytes} bytes; the limit is ${limits.logMessageMaxBytes}`, `${at}/log/message`);
  }
  return { level, message: log.message };
}

/**
 * Validates `body` against the registry and builds its event. `at` prefixes field pointers
 * (`/commands/3` inside a batch); `keySuffix` keeps a batch's items' derived ids distinct.
 */
export function prepareCommand(
  body: unknown,
  registry: Registry,
  context: RequestContext,
  limits: CommandLimits,
  at = '',
  keySuffix = '',
): PreparedCommand {
  if (!isRecord(body)) throw problem('invalid_request', 'a command must be a JSON object', at === '' ? '/' : at);
  onlyKnownKeys(body, topLevelKeys, at);
  const entry = lookUp(registry, body.command, body.version, at);
  if (context.allowedCommands && !context.allowedCommands.has(entry.command)) {
    throw problem('forbidden', `this API key may not run "${entry.command}"`, `${at}/command`);
  }
  if (!isRecord(body.payload)) throw problem('invalid_request', 'payload is required and must be an object', `${at}/payload`);
  const checked = entry.validate(body.payload);
  if (!checked.ok) {
    const errors: FieldError[] = checked.errors.map((e) => ({ field: `${at}${e.field}`, message: e.message }));
    const [first] = errors;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more in errors)` : '';
    throw problem('invalid_payload', `payload does not match ${entry.command} v${entry.version}: ${first ? `${first.field} ${first.message}` : 'invalid'}${more}`, first?.field, errors);
  }
  const log = readLog(body.log, entry.command, limits, at);

  const metadata = body.metadata ?? {};
  if (!isRecord(metadata)) throw problem('invalid_request', 'metadata must be an object', `${at}/metadata`);
  onlyKnownKeys(metadata, metadataKeys, `${at}/metadata`);
  const bodyKey = metadata.idempotency_key;
  if (bodyKey !== undefined && (typeof bodyKey !== 'string' || !idempotencyKeyPattern.test(bodyKey))) {
    throw problem('invalid_request', 'metadata.idempotency_key must be 1 to 255 visible ASCII characters', `${at}/metadata/idempotency_key`);
  }
  if (bodyKey !== undefined && context.idempotencyKey !== undefined && bodyKey !== context.idempotencyKey && keySuffix === '') {
    throw problem('idempotency_key_mismatch', 'the Idempotency-Key header and metadata.idempotency_key differ', `${at}/metadata/idempotency_key`);
  }
  const bodySource = metadata.source;
  if (bodySource !== undefined && (typeof bodySource !== 'string' || !sourcePattern.test(bodySource))) {
    throw problem('invalid_request', 'metadata.source must be 1 to 128 characters of letters, digits and ._:/-', `${at}/metadata/source`);
  }

  const source = context.source ?? bodySource ?? 'anonymous';
  const clientKey = bodyKey ?? (context.idempotencyKey === undefined ? undefined : `${context.idempotencyKey}${keySuffix}`);
  // Without the caller's key Kitsune makes one (a UUIDv7: unique, time-ordered) and derives the id
  // from it as from any key, so the key a 503 hands back retries the very same event.
  const key = clientKey ?? newEventId(context.now.getTime());
  const id = idempotentEventId(source, key);
  const payload = body.payload;
  const event: CommandEvent = {
    id,
    command: entry.command,
    version: entry.version,
    payload,
    log,
    metadata: { idempotency_key: key, timestamp: context.now.toISOString(), source },
  };
  const value = Buffer.from(JSON.stringify(event), 'utf8');
  const headers = {
    [eventHeaders.command]: entry.command,
    [eventHeaders.version]: entry.version,
    [eventHeaders.traceparent]: context.traceparent,
  };
  return {
    event,
    dbRecord: { id, key: entry.entityKeyOf(payload), value, headers },
    logRecord: { id, value, headers },
  };
}
