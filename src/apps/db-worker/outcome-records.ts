/**
 * The records the DB worker publishes after a batch commits: one result per outcome on
 * db-results, and the original record on db-events.dlq for each dead letter.
 *
 * They are published after COMMIT, so a publish that can never succeed must not fail the batch:
 * the batch would be redelivered, find its duplicates, publish the same records, and stall its
 * partition for good. A transport refusal that is not retryable is narrowed to the record at
 * fault; a dead letter then goes with its raw bytes and the dead-letter headers alone, and what
 * even that cannot carry is logged with its position (its result is stored in PostgreSQL).
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { isRetryable, toError } from '../../errors.ts';
import { storable } from '../../events/text.ts';
import { deadLetterMessage, dlqHeaders } from '../../transport/dead-letter.ts';
import type { OutgoingMessage, Publisher } from '../../transport/types.ts';
import { OutcomeStatuses, rowsJsonOf, type Outcome } from '../../execution/index.ts';

/**
 * Header of every db-results record naming the worker process that ran the event (`host/pid`):
 * which replica ran an event, and, when a result appears twice, which one ran it first.
 */
export const workerHeader = 'kitsune-worker';
const workerHeaders: Readonly<Record<string, string>> = Object.freeze({ [workerHeader]: `${hostname()}/${process.pid}` });

/**
 * The record published to db-results for each outcome. At least once: consumers deduplicate by
 * event_id. The rows' JSON is the one already encoded for the result row (rowsJsonOf), spliced
 * in rather than encoded again.
 */
export function resultRecord(outcome: Outcome, completedAt: string = new Date().toISOString()): OutgoingMessage {
  const { event } = outcome;
  const head = JSON.stringify({
    event_id: outcome.eventId,
    status: outcome.status,
    command: event?.command ?? null,
    version: event?.version ?? null,
    source: event?.metadata.source ?? null,
    idempotency_key: event?.metadata.idempotency_key ?? null,
  });
  const result = outcome.status === OutcomeStatuses.succeeded ? `{"rows":${rowsJsonOf(outcome)},"rows_affected":${outcome.rowsAffected ?? 0}}` : 'null';
  const tail = JSON.stringify({ error: outcome.failure ?? null, attempts: outcome.attempts, completed_at: completedAt });
  const key = storable(outcome.eventId);
  return { id: `${key}:${outcome.message.offset}`, key, value: Buffer.from(`${head.slice(0, -1)},"result":${result},${tail.slice(1)}`), headers: workerHeaders };
}

/** The dead letter: original bytes and key, with the reason, SQLSTATE, attempts and source position. */
export function dlqRecord(outcome: Outcome, failedAtMs: number): OutgoingMessage {
  const reason = Object.assign(new Error(outcome.failure?.reason ?? 'dead-lettered'), {
    code: outcome.failure?.code,
    sqlstate: outcome.failure?.sqlstate,
    attempts: outcome.attempts,
  });
  return deadLetterMessage(outcome.message, reason, failedAtMs);
}

/** The dead letter stripped to what any transport takes: the raw bytes and the dead-letter headers. */
function bareDlqRecord(record: OutgoingMessage): OutgoingMessage {
  const kept = new Set<string>(Object.values(dlqHeaders));
  const headers = Object.fromEntries(Object.entries(record.headers ?? {}).filter(([name]) => kept.has(name)));
  return { id: record.id, value: record.value, headers };
}

/**
 * Publishes `records`; if the transport refuses them for good (not retryable), publishes them one
 * at a time and hands each one it still refuses to `refused`. Retryable failures are thrown.
 */
export async function publishNarrowing(
  publisher: Publisher,
  topic: string,
  records: readonly OutgoingMessage[],
  refused: (record: OutgoingMessage, error: Error) => Promise<void>,
): Promise<void> {
  if (records.length === 0) return;
  try {
    await publisher.publish(topic, records);
    return;
  } catch (error) {
    if (isRetryable(error)) throw error;
  }
  for (const record of records) {
    try {
      await publisher.publish(topic, [record]);
    } catch (error) {
      if (isRetryable(error)) throw error;
      await refused(record, toError(error));
    }
  }
}

/** Publishes a batch's results and dead letters; throws only what is worth retrying. */
export async function publishOutcomes(
  publisher: Publisher,
  topics: { dbResults: string; dlq: string },
  outcomes: readonly Outcome[],
  logger: Logger,
  /** Adds to each result record what the caller wants it to carry (the trace context). */
  decorate?: (record: OutgoingMessage, outcome: Outcome) => OutgoingMessage,
): Promise<void> {
  if (outcomes.length === 0) return;
  const failedAt = Date.now();
  const completedAt = new Date(failedAt).toISOString();
  const dead = outcomes.filter((o) => o.status === OutcomeStatuses.deadLettered).map((o) => dlqRecord(o, failedAt));
  const lost = (what: string) => (record: OutgoingMessage, error: Error) => {
    logger.error({ err: error, id: record.id, topic: record.headers?.[dlqHeaders.sourceTopic], partition: record.headers?.[dlqHeaders.sourcePartition], offset: record.headers?.[dlqHeaders.sourceOffset] }, what);
    return Promise.resolve();
  };
  await Promise.all([
    publishNarrowing(publisher, topics.dlq, dead, (record) =>
      publishNarrowing(publisher, topics.dlq, [bareDlqRecord(record)], lost('the dead-letter topic refused this record even with its raw bytes alone; it stays at its source position')),
    ),
    publishNarrowing(publisher, topics.dbResults, outcomes.map((o) => (decorate ? decorate(resultRecord(o, completedAt), o) : resultRecord(o, completedAt))), (record, error) => {
      logger.error({ err: error, id: record.id, topic: topics.dbResults }, 'result record refused by the transport; the outcome is stored in PostgreSQL');
      return Promise.resolve();
    }),
  ]);
}
