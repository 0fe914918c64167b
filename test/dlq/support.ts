/** Dead letters built as the DB worker writes them, for tests of what `kitsune dlq` does with them. */
import { encodeEvent, type CommandEvent } from '../../src/events/envelope.ts';
import { newEventId } from '../../src/events/ids.ts';
import { readDeadLetter, type DeadLetter } from '../../src/dlq/records.ts';
import { deadLetterMessage } from '../../src/transport/dead-letter.ts';
import type { ReceivedMessage } from '../../src/transport/types.ts';

export function userEvent(email: string, overrides: Partial<CommandEvent> = {}): CommandEvent {
  const id = newEventId();
  return {
    id,
    command: 'create_user',
    version: '1',
    payload: { name: 'Ada', email },
    log: { level: 'INFO', message: 'x' },
    metadata: { idempotency_key: id, timestamp: new Date().toISOString(), source: 'test' },
    ...overrides,
  };
}

/** The dead letter of `event` at `offset` of db-events.dlq partition 0, failed with 23505. */
export function deadLetterOf(offset: number, event: CommandEvent, headers: Record<string, string> = {}): DeadLetter {
  const original: ReceivedMessage = {
    id: event.id,
    key: typeof event.payload.email === 'string' ? event.payload.email : event.id,
    value: encodeEvent(event),
    headers: { 'kitsune-command': event.command, traceparent: '00-abc-def-01', ...headers },
    topic: 'db-events',
    partition: 2,
    offset: 40n + BigInt(offset),
    timestamp: 0,
    attempt: 1,
  };
  const failure = Object.assign(new Error('duplicate key value violates unique constraint "users_email_key"'), {
    code: 'KITSUNE_STATEMENT_FAILED',
    sqlstate: '23505',
    attempts: 1,
  });
  const dead = deadLetterMessage(original, failure, Date.parse('2025-01-01T00:00:00Z') + offset);
  return readDeadLetter({
    id: dead.id,
    key: dead.key,
    value: dead.value,
    headers: { ...dead.headers, 'kitsune-id': dead.id },
    topic: 'db-events.dlq',
    partition: 0,
    offset: BigInt(offset),
    timestamp: offset,
    attempt: 1,
  });
}
