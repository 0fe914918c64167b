/**
 * Decoding and validation of a record, before any SQL: the envelope, the registry entry, the
 * payload's schema, the bound values and the payload's hash. Never throws: whatever a record
 * holds, a failure here is that record's dead-letter reason, never the batch's.
 */
import { createHash } from 'node:crypto';
import type { Registry } from '../commands/index.ts';
import { decodeEvent, type CommandEvent } from '../events/envelope.ts';
import { quoted } from '../events/text.ts';
import { ErrorCodes, toError } from '../errors.ts';
import type { ReceivedMessage } from '../transport/types.ts';
import type { ExecuteOptions, Prepared } from './types.ts';

/** SHA-256 of the payload with keys sorted, so key order in the JSON never makes a "conflict". */
export function payloadHash(event: Pick<CommandEvent, 'command' | 'version' | 'payload'>): Buffer {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]));
    }
    return value;
  };
  return createHash('sha256').update(JSON.stringify([event.command, event.version, canonical(event.payload)])).digest();
}

export function prepare(message: ReceivedMessage, registry: Registry, rejectedBefore: ExecuteOptions['rejected']): Prepared {
  let event: CommandEvent;
  try {
    event = decodeEvent(message.value);
  } catch (error) {
    return { message, rejected: { reason: toError(error).message, code: ErrorCodes.INVALID_MESSAGE } };
  }
  const early = rejectedBefore?.get(message);
  if (early) return { message, event, rejected: early };
  try {
    const entry = registry.get(event.command, event.version);
    if (!entry) {
      return { message, event, rejected: { reason: `unknown command ${quoted(event.command)} version ${quoted(event.version)}`, code: ErrorCodes.INVALID_MESSAGE } };
    }
    const checked = entry.validate(event.payload);
    if (!checked.ok) {
      const detail = checked.errors.map((e) => `${e.field} ${e.message}`).join('; ');
      return { message, event, entry, rejected: { reason: `payload does not match ${event.command} v${event.version}: ${detail}`, code: ErrorCodes.INVALID_MESSAGE } };
    }
    return { message, event, entry, values: entry.bind(event.payload), hash: payloadHash(event) };
  } catch (error) {
    return { message, event, rejected: { reason: `the event cannot be prepared: ${toError(error).message}`, code: ErrorCodes.INVALID_MESSAGE } };
  }
}
