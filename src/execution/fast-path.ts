/**
 * The optimistic path for a batch: when no statement fails, a batch costs a fixed handful of
 * round trips whatever its size: the claim of every idempotency key (sent with the batch's
 * opening statements), a read of the keys already taken (only if any), every command in one
 * pipeline (consecutive events of a command as one set statement where its SQL allows it:
 * set-based.ts), and every result. The careful path needs five per event.
 * Any error makes the caller roll back and run the batch again the careful way, event by event;
 * so the fast path only has to be right when it succeeds, and it declines batches it cannot get
 * right cheaply (the same key twice in one batch).
 */
import type pg from 'pg';
import { runPipeline, type PipelineStatement } from '../db/pipeline.ts';
import { conflictOutcome, rejectedRecord, SetMismatchError } from './outcome.ts';
import { commandStatement, knownSetStatement, setStatement, type SetStatement } from './set-based.ts';
import * as store from './store.ts';
import { isExecutable, OutcomeStatuses, type Executable, type Outcome, type Prepared } from './types.ts';

/** What the optimistic path claims: every valid event's idempotency key, in one statement. */
export interface ClaimPlan {
  statement: PipelineStatement;
  claimable: Set<Prepared>;
}

/** A command's place among the batch's statements: its own, or position `position` of a set of `of`. */
interface Command {
  outcome: Outcome & { event: Executable['event'] };
  statement: number;
  position: number;
  of: number;
  returning: boolean;
}

/** Map key of (source, idempotency key): U+0000 cannot occur in either (the envelope refuses it). */
const keyOf = (source: string, key: string): string => `${source}\u0000${key}`;
const keyOfItem = (item: Executable): string => keyOf(item.event.metadata.source, item.event.metadata.idempotency_key);

/** The claim for the batch, or undefined when the batch needs the careful path (the same key twice). */
export function planClaim(prepared: readonly Prepared[]): ClaimPlan | undefined {
  const claimable = prepared.filter(isExecutable);
  if (new Set(claimable.map(keyOfItem)).size !== claimable.length) return undefined;
  return { statement: store.idempotencyClaimMany(claimable), claimable: new Set(claimable) };
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
  const fresh = new Set(claimedRows.map((row) => keyOf(String(row['source']), String(row['idempotency_key']))));
  const taken = prepared.filter((item): item is Executable => plan.claimable.has(item) && isExecutable(item) && !fresh.has(keyOfItem(item)));
  const existing = new Map<string, { event_id: string; payload_hash: Buffer }>();
  if (taken.length > 0) {
    const { rows } = await store.run<{ source: string; idempotency_key: string; event_id: string; payload_hash: Buffer }>(client, store.idempotencyGetMany(taken));
    for (const row of rows) existing.set(keyOf(row.source, row.idempotency_key), row);
  }

  // Every statement the batch needs, in batch order; a command's outcome is completed from its result.
  // Consecutive events of a command with a set statement (set-based.ts) share one statement.
  const outcomes: Outcome[] = [];
  const statements: PipelineStatement[] = [];
  const commands: Command[] = [];
  let run: { entry: Executable['entry']; set: SetStatement; members: Command[]; values: unknown[][] } | undefined;
  const closeRun = (): void => {
    if (!run) return;
    const { entry, set, members, values } = run;
    const statement = members.length === 1 ? commandStatement(entry, values[0]!) : setStatement(set, values);
    members.forEach((member, position) => Object.assign(member, { statement: statements.length, position, of: members.length }));
    statements.push(statement);
    run = undefined;
  };
  for (const item of prepared) {
    const attempts = attemptsOf(item);
    if (!plan.claimable.has(item) || !isExecutable(item)) {
      const { outcome, statement } = rejectedRecord(item, attempts);
      if (statement) statements.push(statement);
      outcomes.push(outcome);
      continue;
    }
    const { message, event, entry, values, hash } = item;
    const base = { message, event, eventId: event.id, attempts };
    if (!fresh.has(keyOfItem(item))) {
      const original = existing.get(keyOfItem(item));
      if (original?.payload_hash.equals(hash)) {
        outcomes.push({ ...base, eventId: original.event_id, status: OutcomeStatuses.duplicate });
        continue;
      }
      statements.push(store.conflictInsert(item));
      outcomes.push(conflictOutcome(base, event.metadata.source, event.metadata.idempotency_key));
      continue;
    }
    const outcome = { ...base, status: OutcomeStatuses.succeeded };
    const command: Command = { outcome, statement: -1, position: 0, of: 1, returning: entry.returning };
    commands.push(command);
    outcomes.push(outcome);
    if (run?.entry !== entry) {
      closeRun();
      const set = knownSetStatement(entry);
      if (!set) {
        command.statement = statements.length;
        statements.push(commandStatement(entry, values));
        continue;
      }
      run = { entry, set, members: [], values: [] };
    }
    run.members.push(command);
    run.values.push(values);
  }
  closeRun();
  const answers = await runPipeline(client, statements);
  for (const { outcome, statement, position, of, returning } of commands) {
    const result = answers[statement]!;
    if (of === 1) {
      outcome.rows = returning ? result.rows : [];
      outcome.rowsAffected = result.rowCount ?? 0;
      continue;
    }
    // A set applies one row per event, or the per-event path must say which event did what.
    if (result.rowCount !== of || (returning && result.rows.length !== of)) throw new SetMismatchError(of, result.rowCount);
    outcome.rows = returning ? [result.rows[position]] : [];
    outcome.rowsAffected = 1;
  }

  const succeeded = commands.map((c) => c.outcome);
  await runPipeline(client, [...(succeeded.length > 0 ? [store.resultInsertMany(succeeded)] : []), ...closing]);
  return outcomes;
}
