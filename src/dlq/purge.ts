/**
 * Purging dead letters: moving the replay group's bookmark past them. Nothing is deleted at once;
 * the records stay readable (`dlq list --all`) until the topic's retention removes them, and on
 * the Postgres log retention may now remove them, since the replay group has passed them.
 *
 * The bookmark is an offset, so a purge drops a prefix of the pending dead letters: all of them,
 * or those that failed before a time (records are in failure order within a partition).
 */
import { inspectDeadLetters, type DlqDeps, type LoadedDlq } from './inspect.ts';
import { LetterStates, type Planned } from './plan.ts';
import { lockName } from './replay.ts';
import { takeReplayLock } from './state.ts';

export interface PurgeOptions {
  /** Only dead letters that failed before this time. (Default: all pending) */
  before?: Date | undefined;
  /** False: report what would be dropped, change nothing. */
  execute: boolean;
}

export interface PurgeReport {
  loaded: LoadedDlq;
  /** Unhandled dead letters the purge drops (or would drop). */
  dropped: Planned[];
  /** Pending dead letters it leaves. */
  kept: Planned[];
  /** The bookmark moves (made when executed). */
  bookmark: Map<number, bigint>;
}

export async function purgeDeadLetters(deps: DlqDeps, options: PurgeOptions): Promise<PurgeReport> {
  const lock = options.execute ? await takeReplayLock(deps.pool, lockName(deps)) : undefined;
  try {
    // maxReplays/force do not matter here: every state after the bookmark is dropped alike.
    const { loaded, planned } = await inspectDeadLetters(deps, { all: false, maxReplays: Number.MAX_SAFE_INTEGER, force: false });
    const bookmark = new Map<number, bigint>();
    for (const partition of loaded.snapshot.partitions) {
      const end = loaded.readUpTo.get(partition.partition)!;
      let target = end;
      if (options.before) {
        const firstKept = planned.find((p) => p.letter.message.partition === partition.partition && failedAt(p) >= options.before!.getTime());
        if (firstKept) target = firstKept.letter.message.offset;
      }
      if (target > loaded.pendingFrom.get(partition.partition)!) bookmark.set(partition.partition, target);
    }
    const isDropped = (p: Planned): boolean => p.letter.message.offset < (bookmark.get(p.letter.message.partition) ?? -1n);
    const unhandled = planned.filter((p) => p.state !== LetterStates.handled);
    if (options.execute && bookmark.size > 0) await deps.log.commit(deps.dlqTopic, deps.group, bookmark);
    return { loaded, dropped: unhandled.filter(isDropped), kept: unhandled.filter((p) => !isDropped(p)), bookmark };
  } finally {
    await lock?.release();
  }
}

/** The failed-at header, else the time the DLQ stored the record. */
function failedAt(p: Planned): number {
  const parsed = p.letter.failedAt === undefined ? Number.NaN : Date.parse(p.letter.failedAt);
  return Number.isNaN(parsed) ? p.letter.message.timestamp : parsed;
}
