/**
 * A dead letter as the operator sees it: the original event (decoded when it can be) and what
 * the dead-letter headers say about its failure. See transport/dead-letter.ts for the
 * headers, which this reads and never rewrites.
 */
import { decodeEvent, type CommandEvent } from '../events/envelope.ts';
import { dlqHeaders } from '../transport/dead-letter.ts';
import { reservedHeaders, type OutgoingMessage, type ReceivedMessage } from '../transport/types.ts';

/** Headers a replay adds to the event it republishes. */
export const replayHeaders = {
  /**
   * How many times this event was replayed from a DLQ (decimal). It survives the next dead letter
   * (a dead letter keeps every header but its own), which is what the loop guard reads.
   */
  count: 'kitsune-replay-count',
  /** ISO 8601 time of the replay. */
  replayedAt: 'kitsune-replayed-at',
  /** `<dlq topic>/<partition>/<offset>` of the dead letter it came from. */
  replayedFrom: 'kitsune-replayed-from',
} as const;

export interface SourcePosition {
  topic: string;
  partition: number;
  offset: string;
}

export interface DeadLetter {
  /** The record as stored in the DLQ: its position, key, bytes and headers. */
  message: ReceivedMessage;
  /** `<partition>:<offset>` in the DLQ. */
  position: string;
  /** The original event id (the record's id; equal to event.id when the event decodes). */
  eventId: string;
  /** Undefined when the bytes are not a Kitsune event (decodeError says why). */
  event: CommandEvent | undefined;
  decodeError: string | undefined;
  reason: string;
  code: string | undefined;
  sqlstate: string | undefined;
  attempts: number | undefined;
  source: SourcePosition | undefined;
  failedAt: string | undefined;
  /** Replays so far: 0 for a first failure. */
  replayCount: number;
}

const count = (value: string | undefined): number | undefined => {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return undefined;
  return Number(value);
};

export function readDeadLetter(message: ReceivedMessage): DeadLetter {
  const headers = message.headers;
  let event: CommandEvent | undefined;
  let decodeError: string | undefined;
  try {
    event = decodeEvent(message.value);
  } catch (error) {
    decodeError = (error as Error).message;
  }
  const sourceTopic = headers[dlqHeaders.sourceTopic];
  const sourcePartition = count(headers[dlqHeaders.sourcePartition]);
  const sourceOffset = headers[dlqHeaders.sourceOffset];
  return {
    message,
    position: `${message.partition}:${message.offset}`,
    eventId: message.id,
    event,
    decodeError,
    reason: headers[dlqHeaders.reason] ?? '(no reason recorded)',
    code: headers[dlqHeaders.code],
    sqlstate: headers[dlqHeaders.sqlstate],
    attempts: count(headers[dlqHeaders.attempts]),
    source:
      sourceTopic !== undefined && sourcePartition !== undefined && sourceOffset !== undefined
        ? { topic: sourceTopic, partition: sourcePartition, offset: sourceOffset }
        : undefined,
    failedAt: headers[dlqHeaders.failedAt],
    replayCount: count(headers[replayHeaders.count]) ?? 0,
  };
}

/**
 * The event to republish: the original id, key and bytes, so the DB worker derives the same
 * idempotency row and a replayed success can never apply twice. Headers: the original ones (the
 * traceparent included), without the dead-letter ones, plus the replay marks.
 */
export function replayMessage(letter: DeadLetter, now: Date): OutgoingMessage {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  const drop = new Set<string>([reservedHeaders.id, ...Object.values(dlqHeaders), ...Object.values(replayHeaders)]);
  for (const [name, value] of Object.entries(letter.message.headers)) if (!drop.has(name)) headers[name] = value;
  headers[replayHeaders.count] = String(letter.replayCount + 1);
  headers[replayHeaders.replayedAt] = now.toISOString();
  headers[replayHeaders.replayedFrom] = `${letter.message.topic}/${letter.message.partition}/${letter.message.offset}`;
  return { id: letter.message.id, key: letter.message.key, value: letter.message.value, headers };
}
