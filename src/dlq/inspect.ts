/** Reading a DLQ with every dead letter's state: what `dlq list` and `dlq show` print, and what replay and purge act on. */
import type pg from 'pg';
import type { Registry } from '../commands/index.ts';
import { pendingFrom, type DeadLetterLog, type DlqSnapshot } from './log.ts';
import { plan, type Planned } from './plan.ts';
import { readDeadLetter, type DeadLetter } from './records.ts';
import { findApplied } from './state.ts';

export interface DlqDeps {
  log: DeadLetterLog;
  pool: pg.Pool;
  registry: Registry;
  /** The dead-letter topic, e.g. `db-events.dlq`. */
  dlqTopic: string;
  /** The replay group whose committed offsets are the bookmark: `<KAFKA_GROUP_ID>.dlq-replay`. */
  group: string;
}

export interface LoadedDlq {
  snapshot: DlqSnapshot;
  /** In DLQ order (partition, offset). */
  letters: DeadLetter[];
  /** Per partition: the bookmark (or the oldest record when there is none). */
  pendingFrom: Map<number, bigint>;
  /** Per partition: the end offset that was read up to (exclusive). */
  readUpTo: Map<number, bigint>;
}

/**
 * Reads the DLQ from the bookmark (or, with `all`, from the oldest retained record) to its end as
 * of now. Memory: every record read is held, about its size plus 1 KB; a DLQ of a hundred
 * thousand 1 KB events is ~200 MB. Purge what you will not replay.
 */
export async function loadDeadLetters(deps: DlqDeps, options: { all: boolean }): Promise<LoadedDlq> {
  const snapshot = await deps.log.describe(deps.dlqTopic, deps.group);
  const letters: DeadLetter[] = [];
  const from = new Map<number, bigint>();
  const readUpTo = new Map<number, bigint>();
  for (const partition of snapshot.partitions) {
    const bookmark = pendingFrom(partition);
    from.set(partition.partition, bookmark);
    readUpTo.set(partition.partition, partition.end);
    const start = options.all ? partition.start : bookmark;
    if (start >= partition.end) continue;
    const messages = await deps.log.read(deps.dlqTopic, partition.partition, start, partition.end);
    letters.push(...messages.map(readDeadLetter));
  }
  return { snapshot, letters, pendingFrom: from, readUpTo };
}

export interface InspectOptions {
  /** Read from the oldest retained record, not from the bookmark. */
  all: boolean;
  /** With `all`: treat records before the bookmark as pending again instead of handled. */
  reconsider?: boolean;
  maxReplays: number;
  force: boolean;
  select?: ReadonlySet<string> | undefined;
}

/** The DLQ, each dead letter classified (see plan.ts). */
export async function inspectDeadLetters(deps: DlqDeps, options: InspectOptions): Promise<{ loaded: LoadedDlq; planned: Planned[] }> {
  const loaded = await loadDeadLetters(deps, { all: options.all });
  const applied = await findApplied(deps.pool, loaded.letters);
  const planned = plan(loaded.letters, {
    registry: deps.registry,
    pendingFrom: options.all && options.reconsider ? new Map(loaded.snapshot.partitions.map((p) => [p.partition, p.start])) : loaded.pendingFrom,
    applied,
    maxReplays: options.maxReplays,
    force: options.force,
    select: options.select,
  });
  return { loaded, planned };
}
