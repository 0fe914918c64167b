/**
 * Helpers for the log worker's tests: app-logs records built the way the API builds them
 * (src/apps/api/command-request.ts), a reader for a whole topic, and polling with a deadline.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeEvent, eventHeaders, type CommandEvent, type LogLevel } from '../../../src/events/envelope.ts';
import { newEventId } from '../../../src/events/ids.ts';
import { childTraceparent } from '../../../src/observability/trace-context.ts';
import type { OutgoingMessage, Publisher } from '../../../src/transport/types.ts';
import type { StoredEntry } from '../../support/loki/index.ts';
import { readWholeTopic } from '../../support/kafka-topic.ts';

export interface EventShape {
  command?: string;
  level?: LogLevel;
  message?: string;
  source?: string;
  /** (Default: now) */
  at?: Date;
}

/** Spreads events over 3 commands × 2 levels: six Loki streams. */
export function logEvent(i: number, shape: EventShape = {}): CommandEvent {
  const at = shape.at ?? new Date();
  const id = newEventId(at.getTime());
  const command = shape.command ?? ['create_user', 'update_user', 'delete_user'][i % 3]!;
  return {
    id,
    command,
    version: '1',
    payload: { name: `user ${i}`, email: `user-${i}@example.com` },
    log: { level: shape.level ?? (i % 2 === 0 ? 'INFO' : 'WARN'), message: shape.message ?? `${command} #${i}` },
    metadata: { idempotency_key: id, timestamp: at.toISOString(), source: shape.source ?? 'user-service' },
  };
}

/** The app-logs record of `event`, as the API publishes it: unkeyed, id and trace in headers. */
export function appLogRecord(event: CommandEvent, traceparent = childTraceparent(undefined)): OutgoingMessage {
  return {
    id: event.id,
    value: encodeEvent(event),
    headers: { [eventHeaders.command]: event.command, [eventHeaders.version]: event.version, [eventHeaders.traceparent]: traceparent },
  };
}

/** A record that is not an event at all, as a misbehaving producer might write. */
export function malformedRecord(): OutgoingMessage {
  return { id: randomUUID(), value: Buffer.from('{"this is": "not json'), headers: {} };
}

export async function publishAll(publisher: Publisher, topic: string, records: readonly OutgoingMessage[], batchSize = 500): Promise<void> {
  for (let i = 0; i < records.length; i += batchSize) await publisher.publish(topic, records.slice(i, i + batchSize));
}

export interface ConsumedRecord {
  id: string | undefined;
  value: Buffer;
  headers: Map<string, string>;
  partition: number;
  offset: bigint;
}

/** Every record on `topic` up to now (its end offsets when called). */
export async function readTopic(topic: string): Promise<ConsumedRecord[]> {
  return (await readWholeTopic(topic)).map(({ value, headers, partition, offset }) => ({ id: headers.get('kitsune-id'), value, headers, partition, offset }));
}

/** Polls `check` until it returns true; fails with `what` and the last `describe()` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string | Promise<string> = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} ${await describe()}`);
    await sleep(100);
  }
}

/** How many times each event id is stored in Loki, from the entries' structured metadata. */
export function storedCounts(entries: readonly StoredEntry[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    const id = entry.metadata.event_id;
    if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}
