/**
 * The optimistic path for a batch: when no statement fails, a batch costs a fixed handful of
 * round trips whatever its size: the claim of every idempotency key (sent with the batch's
 * opening statements), a read of the keys already taken (only if any), every command in one
 * pipeline, and every result. The careful path needs five per event.
 * Any error makes the caller roll back and run the batch again the careful way, event by event;
 * so the fast path only has to be right when it succeeds, and it declines batches it cannot get
 * right cheaply (the same key twice in one batch).
 */
import type pg from 'pg';
import { runPipeline, type PipelineStatement } from '../../db/pipeline.ts';
import type { Outcome, Prepared } from './execute-batch.ts';
import { isExecutable, OutcomeStatuses, queries, rejectedRecord } from './execute-batch.ts';

/** What the optimistic path claims: every valid event's idempotency key, in one statement. */
export interface ClaimPlan {
  statement: PipelineStatement;
  claimable: Set<Prepared>;
}

const keyOf = (item: Prepared): string => `${item.event!.metadata.source}\u0000${item.event!.metadata.idempotency_key}`;

/** The claim for the batch, or undefined when the batch needs the careful path (the same key twice). */
export function planClaim(prepared: readonly Prepared[]): ClaimPlan | undefined {
  const claimable = prepared.filter(isExecutable);
  if (new Set(claimable.map(keyOf)).size !== claimable.length) return undefined;
  const values = [
    claimable.map((i) => i.event.metadata.source),
    claimable.map((i) => i.event.metadata.idempotency_key),
    claimable.map((i) => i.event.id),
    claimable.map((i) => i.event.command),
    claimable.map((i) => i.event.version),
    claimable.map((i) => i.hash),
  ];
  return { statement: { text: queries.IdempotencyClaimMany, values }, claimable: new Set(claimable) };
}

/**
 * Outcomes in batch order, given the keys the claim inserted (`claimedRows`). Throws on any SQL
 * error. `closing` statements run with the results, in the batch's last round trip.
 */
export async function executeOptimistically(
  client: pg.PoolClient,
  prepared: readonly Prepared[],
  plan: ClaimPlan,
  claimedRows: readonly Record<string, unknown>[],
  attemptsOf: (item: Prepared) => number,
  closing: readonly PipelineStatement[],
): Promise<Outcome[]> {
  const { claimable: isClaimable } = plan;
  const fresh = new Set(claimedRows.map((row) => `${String(row['source'])}\u0000${String(row['idempotency_key'])}`));
  const taken = [...isClaimable].filter((item) => !fresh.has(keyOf(item)));
  const existing = new Map<string, { event_id: string; payload_hash: Buffer }>();
  if (taken.length > 0) {
    const { rows } = await client.query<{ source: string; idempotency_key: string; event_id: string; payload_hash: Buffer }>(queries.IdempotencyGetMany, [
      taken.map((i) => i.event!.metadata.source),
      taken.map((i) => i.event!.metadata.idempotency_key),
    ]);
    for (const row of rows) existing.set(`${row.source}\u0000${row.idempotency_key}`, row);
  }

  // Every statement the batch needs, in batch order; a command's outcome is completed from its result.
  const outcomes: Outcome[] = [];
  const statements: PipelineStatement[] = [];
  const commands: { outcome: Outcome; statement: number; returning: boolean }[] = [];
  for (const item of prepared) {
    const attempts = attemptsOf(item);
    if (!isClaimable.has(item) || !isExecutable(item)) {
      const { outcome, statement } = rejectedRecord(item, attempts);
      if (statement) statements.push(statement);
      outcomes.push(outcome);
      continue;
    }
    const { message, event, entry, values, hash } = item;
    const base = { message, event, eventId: event.id, attempts };
    if (!fresh.has(keyOf(item))) {
      const original = existing.get(keyOf(item));
      if (original?.payload_hash.equals(hash)) {
        outcomes.push({ ...base, eventId: original.event_id, status: OutcomeStatuses.duplicate });
        continue;
      }
      statements.push({
        text: queries.ConflictInsert,
        values: [event.id, hash, JSON.stringify(event.payload), message.topic, message.partition, String(message.offset)],
      });
      outcomes.push({
        ...base,
        status: OutcomeStatuses.conflict,
        failure: { reason: `idempotency key ${event.metadata.idempotency_key} of ${event.metadata.source} was already used with a different payload`, code: 'KITSUNE_IDEMPOTENCY_CONFLICT' },
      });
      continue;
    }
    const outcome: Outcome = { ...base, status: OutcomeStatuses.succeeded };
    commands.push({ outcome, statement: statements.length, returning: entry.returning });
    statements.push({ text: entry.text, values });
    outcomes.push(outcome);
  }
  const answers = await runPipeline(client, statements);
  for (const { outcome, statement, returning } of commands) {
    const result = answers[statement]!;
    outcome.rows = returning ? result.rows : [];
    outcome.rowsAffected = result.rowCount ?? 0;
  }

  const succeeded = commands.map((c) => c.outcome);
  const results: PipelineStatement[] = [];
  if (succeeded.length > 0) {
    results.push({
      text: queries.ResultInsertMany,
      values: [
        succeeded.map((o) => o.eventId),
        succeeded.map(() => OutcomeStatuses.succeeded),
        succeeded.map((o) => o.event!.command),
        succeeded.map((o) => o.event!.version),
        succeeded.map((o) => o.event!.metadata.source),
        succeeded.map((o) => o.event!.metadata.idempotency_key),
        succeeded.map((o) => JSON.stringify(o.rows ?? [])),
        succeeded.map((o) => o.rowsAffected ?? 0),
        succeeded.map(() => null),
        succeeded.map((o) => o.attempts),
        succeeded.map((o) => o.message.topic),
        succeeded.map((o) => o.message.partition),
        succeeded.map((o) => String(o.message.offset)),
      ],
    });
  }
  await runPipeline(client, [...results, ...closing]);
  return outcomes;
}
