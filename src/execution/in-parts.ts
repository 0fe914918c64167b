/**
 * A batch the fast path failed on, run again in parts: each half is tried on the fast path in its
 * own savepoint, and a half that fails is halved again, down to parts of `carefulPartSize` events,
 * which run on the careful path. One event that cannot apply (a poison record, a constraint it
 * breaks) then costs about ten fast-path attempts of a few round trips each, instead of five round
 * trips for every event of the batch: on a loaded machine a batch of 500 took over a minute the
 * careful way, holding its idempotency keys locked all along, so a member that took the partition
 * over in a rebalance waited on them as long.
 *
 * Parts run in batch order, so per-entity order holds as on the careful path, and an event that
 * fails transiently stops the batch there (careful-path.ts).
 */
import { forgetPreparedStatements, runPipeline } from '../db/pipeline.ts';
import { applyCarefully, type ApplyContext, type TransientStop } from './careful-path.ts';
import { classifyQueryError, FailureKinds } from './failures.ts';
import { executeOptimistically, planClaim } from './fast-path.ts';
import { SetMismatchError } from './outcome.ts';
import { probeSetStatements } from './set-based.ts';
import type { Outcome, Prepared } from './types.ts';

/**
 * Parts this small run on the careful path: below about eight events, halving them (two fast-path
 * attempts of about five round trips per halving) costs more than five round trips per event.
 */
export const carefulPartSize = 8;

/**
 * Applies `part` (the batch's events from index `first` on), which the fast path failed on, inside
 * the open transaction. Returns the event that stopped the batch, if one failed transiently.
 */
export async function applyInParts(context: ApplyContext, part: readonly Prepared[], first: number): Promise<TransientStop | undefined> {
  if (part.length <= carefulPartSize) return applyCarefully(context, part, first);
  const middle = Math.ceil(part.length / 2);
  for (const [half, at] of [
    [part.slice(0, middle), first],
    [part.slice(middle), first + middle],
  ] as const) {
    const applied = await tryFastPath(context, half);
    if (applied) {
      context.outcomes.push(...applied);
      continue;
    }
    const stop = await applyInParts(context, half, at);
    if (stop) return stop;
  }
  return undefined;
}

/**
 * The fast path on `part` in a savepoint: its outcomes, or undefined when a statement failed
 * (everything it did is rolled back). A lost connection is thrown.
 */
async function tryFastPath({ client, attemptsOf }: ApplyContext, part: readonly Prepared[]): Promise<Outcome[] | undefined> {
  const claim = planClaim(part);
  if (!claim) return undefined;
  try {
    const [, claimed] = await runPipeline(client, [{ text: 'SAVEPOINT part' }, claim.statement]);
    await probeSetStatements(client, new Set([...claim.claimable].flatMap((item) => (item.entry ? [item.entry] : []))));
    return await executeOptimistically(client, part, claim, claimed!.rows, attemptsOf, [{ text: 'RELEASE SAVEPOINT part' }]);
  } catch (error) {
    if (!(error instanceof SetMismatchError) && classifyQueryError(error) === FailureKinds.connection) throw error;
    // As after the whole batch failed: a failed statement may have been a stale prepared one.
    await runPipeline(client, [{ text: 'ROLLBACK TO SAVEPOINT part' }, { text: 'RELEASE SAVEPOINT part' }]);
    await forgetPreparedStatements(client);
    return undefined;
  }
}
