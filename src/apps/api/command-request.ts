/**
 * Turns one request body into an event ready to publish, or an ApiError naming the field at
 * fault. Nothing here touches the broker: a command that fails any check produces no record.
 */
import { eventHeaders, LogLevels, type CommandEvent, type LogLevel } from '../../events/envelope.ts';
import type { EventIds } from '../../events/event-ids.ts';
import { newEventId } from '../../events/ids.ts';
import { recordBytes } from '../../transport/record-limits.ts';
import type { OutgoingMessage } from '../../transport/types.ts';
import type { CommandSchemas } from './command-schemas.ts';
import { problem } from './problems.ts';

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
  /** Largest db-events record the topics take (src/transport/record-limits.ts); a larger event is a 413. (Default: unchecked) */
  maxRecordBytes?: number;
}

export interface PreparedCommand {
  event: CommandEvent;
  /** The db-events record (keyed by entity) and the app-logs record (unkeyed). */
  dbRecord: OutgoingMessage;
  logRecord: OutgoingMessage;
}

const levels = new Map<string, LogLevel>(LogLevels.flatMap((level) => [[level, level], [level.toLowerCase(), level]]));

/**
 * Validates `body` against its command version's schema and builds its event. `at` prefixes field
 * pointers (`/commands/3` inside a batch); `keySuffix` keeps a batch's items' derived ids distinct.
 */
export function prepareCommand(
  body: unknown,
  schemas: CommandSchemas,
  ids: EventIds,
  context: RequestContext,
  at = '',
  keySuffix = '',
): PreparedCommand {
  const { entry, body: checked } = schemas.check(body, at, context.allowedCommands);
  const log: CommandEvent['log'] = checked.log
    ? { level: levels.get(checked.log.level) ?? 'INFO', message: checked.log.message }
    : { level: 'INFO', message: `${entry.command} accepted` };
  const bodyKey = checked.metadata?.idempotency_key;
  if (bodyKey !== undefined && context.idempotencyKey !== undefined && bodyKey !== context.idempotencyKey && keySuffix === '') {
    throw problem('idempotency_key_mismatch', 'the Idempotency-Key header and metadata.idempotency_key differ', `${at}/metadata/idempotency_key`);
  }
  const bodySource = checked.metadata?.source;

  const source = context.source ?? bodySource ?? 'anonymous';
  const clientKey = bodyKey ?? (context.idempotencyKey === undefined ? undefined : `${context.idempotencyKey}${keySuffix}`);
  // Without the caller's key Kitsune makes one (a UUIDv7: unique, time-ordered) and derives the id
  // from it as from any key, so the key a 503 hands back retries the very same event.
  const key = clientKey ?? newEventId(context.now.getTime());
  const id = ids.idempotent(source, key);
  const payload = checked.payload;
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
  const dbRecord = { id, key: entry.entityKeyOf(payload), value, headers };
  const bytes = context.maxRecordBytes === undefined ? 0 : recordBytes(dbRecord);
  if (context.maxRecordBytes !== undefined && bytes > context.maxRecordBytes) {
    // Rare: the body was within its limit, but its event is not (numbers such as 1e20 are sent in full).
    throw problem('body_too_large', `the event this command makes is ${bytes} bytes, over the ${context.maxRecordBytes}-byte record limit of Kitsune's topics; send a smaller payload`, at === '' ? undefined : at);
  }
  return { event, dbRecord, logRecord: { id, value, headers } };
}
