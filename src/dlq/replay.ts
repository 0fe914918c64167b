/**
 * Replaying dead letters: republish the original events (same id, key, bytes and idempotency
 * key) to db-events, where the DB worker handles them like any other event. Exactly-once effect
 * comes from the worker's idempotency row, not from this code: a replayed event that already
 * took effect is acknowledged as a duplicate. What this code adds is care: re-validation against
 * the current registry, a loop guard, a rate limit, a dry run, and the bookmark.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Publisher } from '../transport/types.ts';
import { dryRun, type DryRunOutcome } from './dry-run.ts';
import { inspectDeadLetters, type DlqDeps, type LoadedDlq } from './inspect.ts';
import { paced } from './pace.ts';
import { advancedBookmarks, LetterStates, resolvedStates, type Planned } from './plan.ts';
import { replayMessage, type DeadLetter } from './records.ts';
import { databaseNow, resultsSince, takeReplayLock, type StoredResult } from './state.ts';

export interface ReplayDeps extends DlqDeps {
  publisher: Publisher;
  /** Where replayed events go: the DLQ's source topic, `db-events`. */
  targetTopic: string;
}

export interface ReplayOptions {
  /** Predict with a rolled-back transaction; publish nothing, move nothing. */
  dryRun: boolean;
  /** Also dead letters before the bookmark (replayed or purged by earlier runs). */
  all: boolean;
  /** Only these event ids or positions; undefined: every pending dead letter. */
  select?: ReadonlySet<string> | undefined;
  /** Loop guard: an event replayed this many times is held. (Default: 3) */
  maxReplays: number;
  force: boolean;
  /** Most events published per second. (Default: 100) */
  ratePerSecond: number;
  /** After publishing, wait this long for the worker's outcomes; 0: do not wait. (Default: 0) */
  waitMs: number;
  /** Called after each published chunk. */
  onProgress?: (published: number, total: number) => void;
}

export const replayDefaults = {
  maxReplays: 3,
  ratePerSecond: 100,
} as const satisfies Partial<ReplayOptions>;

export interface ReplayReport {
  loaded: LoadedDlq;
  planned: Planned[];
  /** Dry run: the worker's predicted outcome of each pending dead letter. */
  predictions: DryRunOutcome[] | undefined;
  replayed: DeadLetter[];
  /** Of `replayed`, those already applied (--force): the worker acknowledges them as duplicates and stores no new outcome. */
  duplicates: DeadLetter[];
  /** Bookmark moves made, per partition. */
  bookmark: Map<number, bigint>;
  /** With waitMs: the outcome stored since the replay began for each replayed event that was not a duplicate (missing: none yet). */
  outcomes: Map<string, StoredResult> | undefined;
}

/** `<group>/<dlq topic>`: the replay lock's name. */
export const lockName = (deps: Pick<DlqDeps, 'group' | 'dlqTopic'>): string => `${deps.group}/${deps.dlqTopic}`;

export async function replayDeadLetters(deps: ReplayDeps, options: ReplayOptions): Promise<ReplayReport> {
  // A dry run changes nothing, so it needs no lock and may run beside a replay.
  const lock = options.dryRun ? undefined : await takeReplayLock(deps.pool, lockName(deps));
  try {
    const { loaded, planned } = await inspectDeadLetters(deps, { all: options.all, reconsider: true, maxReplays: options.maxReplays, force: options.force, select: options.select });
    const pending = planned.filter((p) => p.state === LetterStates.pending);
    const report: ReplayReport = { loaded, planned, predictions: undefined, replayed: [], duplicates: [], bookmark: new Map(), outcomes: undefined };
    if (options.dryRun) {
      report.predictions = await dryRun(deps.pool, deps.registry, pending.map((p) => p.letter));
      return report;
    }

    const since = await databaseNow(deps.pool);
    const fates = planned.map((p) => ({ letter: p.letter, resolved: resolvedStates.has(p.state) }));
    const fateOf = new Map(fates.map((fate) => [fate.letter, fate]));
    const moveBookmark = async (): Promise<void> => {
      const moves = advancedBookmarks(loaded.snapshot.partitions, loaded.readUpTo, fates);
      const changed = new Map([...moves].filter(([partition, offset]) => report.bookmark.get(partition) !== offset));
      if (changed.size === 0) return;
      await deps.log.commit(deps.dlqTopic, deps.group, changed);
      for (const [partition, offset] of changed) report.bookmark.set(partition, offset);
    };
    await paced(pending, options.ratePerSecond, async (chunk) => {
      const now = new Date();
      await deps.publisher.publish(deps.targetTopic, chunk.map((p) => replayMessage(p.letter, now)));
      for (const p of chunk) {
        fateOf.get(p.letter)!.resolved = true;
        report.replayed.push(p.letter);
        if (p.alreadyApplied) report.duplicates.push(p.letter);
      }
      // After every chunk, so a replay stopped halfway does not publish its first part again.
      await moveBookmark();
      options.onProgress?.(report.replayed.length, pending.length);
    });
    await moveBookmark();
    if (options.waitMs > 0 && report.replayed.length > 0) {
      const awaited = report.replayed.filter((l) => !report.duplicates.includes(l));
      report.outcomes = await waitForOutcomes(deps, awaited.map((l) => l.eventId), since, options.waitMs);
    }
    return report;
  } finally {
    await lock?.release();
  }
}

async function waitForOutcomes(deps: ReplayDeps, eventIds: string[], since: Date, waitMs: number): Promise<Map<string, StoredResult>> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const found = await resultsSince(deps.pool, eventIds, since);
    if (found.size >= new Set(eventIds).size || Date.now() >= deadline) return found;
    await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
  }
}
