/**
 * What each dead letter is, and so what a replay does with it. Nothing here is stored: the state
 * is derived from the replay group's bookmark, the later records of the DLQ and the idempotency
 * table, so a replay that crashed halfway is simply run again.
 */
import type { Registry } from '../commands/index.ts';
import type { DlqPartition } from './log.ts';
import type { DeadLetter } from './records.ts';
import { idempotencyKeyOf, isUuid, type AppliedRow } from './state.ts';

export const LetterStates = {
  /** Before the bookmark: replayed or purged by an earlier run. Listed with --all only. */
  handled: 'handled',
  /** A later dead letter of the same event exists (it was replayed and failed again); that one counts. */
  superseded: 'superseded',
  /** Its idempotency key is recorded: the event took effect (a replay succeeded). */
  applied: 'applied',
  /** Not a valid event under the current registry (undecodable, unknown command or version, bad payload). */
  invalid: 'invalid',
  /** Replayed maxReplays times already: the loop guard holds it until --force. */
  exhausted: 'exhausted',
  /** Pending, but not named by --id in this run. */
  unselected: 'unselected',
  /** Waiting to be replayed. */
  pending: 'pending',
} as const;

export type LetterState = (typeof LetterStates)[keyof typeof LetterStates];

/** States that let the bookmark pass a dead letter: nothing is left to do for it. */
export const resolvedStates: ReadonlySet<LetterState> = new Set([LetterStates.handled, LetterStates.superseded, LetterStates.applied]);

export interface Planned {
  letter: DeadLetter;
  state: LetterState;
  /** Why, for the operator: the registry problem, the superseding position, the applied time. */
  detail: string | undefined;
  /** Its key is recorded as applied (state `applied`, or `pending` under --force: a duplicate to the worker). */
  alreadyApplied?: boolean;
}

export interface PlanOptions {
  registry: Registry;
  /** The bookmark per partition (pendingFrom); letters below it are handled. */
  pendingFrom: ReadonlyMap<number, bigint>;
  applied: ReadonlyMap<string, AppliedRow>;
  /** Replays allowed per event before the loop guard holds it. (Default: 3) */
  maxReplays: number;
  /** Replay past the loop guard and replay applied events (the worker then counts duplicates). */
  force: boolean;
  /** Only these event ids or DLQ positions (`0:17`) are replayed; undefined: all. */
  select?: ReadonlySet<string> | undefined;
}

/** Checks the event against the current registry: the reason it cannot be replayed, or undefined. */
export function registryProblem(letter: DeadLetter, registry: Registry): string | undefined {
  const { event } = letter;
  if (!event) return letter.decodeError ?? 'not a Kitsune event';
  if (!isUuid(event.id)) return `event id ${event.id} is not a UUID`;
  const entry = registry.get(event.command, event.version);
  if (!entry) {
    const known = registry.versions(event.command);
    return known.length === 0
      ? `command ${event.command} is not in the current registry`
      : `command ${event.command} has no version ${event.version} in the current registry (known: ${known.join(', ')})`;
  }
  const checked = entry.validate(event.payload);
  if (!checked.ok) return `payload does not match ${event.command} v${event.version}: ${checked.errors.map((e) => `${e.field} ${e.message}`).join('; ')}`;
  return undefined;
}

/** Classifies `letters` (in DLQ order), for list and replay alike. */
export function plan(letters: readonly DeadLetter[], options: PlanOptions): Planned[] {
  // The newest dead letter of each event; older ones are superseded by it.
  const newest = new Map<string, DeadLetter>();
  for (const letter of letters) {
    const current = newest.get(letter.eventId);
    if (!current || newer(letter, current)) newest.set(letter.eventId, letter);
  }
  return letters.map((letter): Planned => {
    const from = options.pendingFrom.get(letter.message.partition) ?? 0n;
    if (letter.message.offset < from) return { letter, state: LetterStates.handled, detail: undefined };
    const latest = newest.get(letter.eventId)!;
    if (latest !== letter) return { letter, state: LetterStates.superseded, detail: `failed again, see ${latest.position}` };
    const { event } = letter;
    const applied = event ? options.applied.get(idempotencyKeyOf(event.metadata.source, event.metadata.idempotency_key)) : undefined;
    if (applied && !options.force) {
      const other = applied.eventId === letter.eventId ? '' : ` (by event ${applied.eventId})`;
      return { letter, state: LetterStates.applied, detail: `took effect ${applied.at.toISOString()}${other}` };
    }
    const problem = registryProblem(letter, options.registry);
    if (problem) return { letter, state: LetterStates.invalid, detail: problem };
    if (letter.replayCount >= options.maxReplays && !options.force) {
      return { letter, state: LetterStates.exhausted, detail: `replayed ${letter.replayCount} times already; --force replays it again` };
    }
    if (options.select && !options.select.has(letter.eventId) && !options.select.has(letter.position)) {
      return { letter, state: LetterStates.unselected, detail: undefined };
    }
    if (applied) return { letter, state: LetterStates.pending, detail: 'already applied: the worker will count a duplicate', alreadyApplied: true };
    return { letter, state: LetterStates.pending, detail: undefined };
  });
}

function newer(a: DeadLetter, b: DeadLetter): boolean {
  if (a.message.partition === b.message.partition) return a.message.offset > b.message.offset;
  return a.message.timestamp > b.message.timestamp;
}

/**
 * How far each partition's bookmark may move once the letters' fates are known: up to the first
 * one that is still unresolved, else to the end that was read. Only moves that go forward.
 */
export function advancedBookmarks(
  partitions: readonly DlqPartition[],
  readUpTo: ReadonlyMap<number, bigint>,
  fates: ReadonlyArray<{ letter: DeadLetter; resolved: boolean }>,
): Map<number, bigint> {
  const moves = new Map<number, bigint>();
  for (const partition of partitions) {
    const end = readUpTo.get(partition.partition);
    if (end === undefined) continue;
    let target = end;
    for (const { letter, resolved } of fates) {
      if (letter.message.partition === partition.partition && !resolved && letter.message.offset < target) target = letter.message.offset;
    }
    if (partition.committed === undefined ? target > partition.start : target > partition.committed) moves.set(partition.partition, target);
  }
  return moves;
}
