/** Messages and errors shared by the dead-letter and circuit-breaker tests. */
import { ErrorCodes, KitsuneError } from '../../src/errors.ts';
import type { ReceivedMessage } from '../../src/transport/types.ts';

export function receivedMessage(overrides: Partial<ReceivedMessage> = {}): ReceivedMessage {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  headers.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  return {
    id: 'evt-1',
    key: 'user-42',
    value: Buffer.from('{"command":"create_user"}'),
    headers,
    topic: 'db-events',
    partition: 3,
    offset: 1234n,
    timestamp: 1_700_000_000_000,
    attempt: 1,
    ...overrides,
  };
}

/** A transient failure, as a dependency outage would raise. */
export function transient(message = 'connection refused'): KitsuneError {
  return new KitsuneError(ErrorCodes.UNAVAILABLE, message, { retryable: true });
}

/** A failure of the message itself: retrying cannot help. */
export function permanent(message = 'payload does not match the schema'): KitsuneError {
  return new KitsuneError(ErrorCodes.INVALID_MESSAGE, message, { retryable: false });
}

/** Lets pending promise callbacks (and the ones they schedule) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
