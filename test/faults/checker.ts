/**
 * The checker: what the history says was promised, against what PostgreSQL, the topics and Loki
 * hold after quiescence. Pure: it reads an Observed snapshot (gather.ts), so it can be tested on
 * made-up histories. Safety figures must be 0; the rest describe the run.
 */
import { outcomes, type HistoryEntry } from './history.ts';

export interface Observed {
  /** fault_steps rows, in id order (the order PostgreSQL applied them). */
  effects: ReadonlyArray<{ entity: string; seq: number; op: string }>;
  /**
   * Where each idempotency key's db-events records are (partition and offset). A lost event is
   * reported with it: on the topic means the consumer side lost it, absent means the producer side.
   */
  dbEventRecords: ReadonlyMap<string, ReadonlyArray<{ partition: number; offset: bigint }>>;
  /** db-events.dlq: idempotency key (undefined if unreadable) and SQLSTATE of each dead letter. */
  deadLetters: ReadonlyArray<{ key: string | undefined; sqlstate: string | undefined }>;
  /** app-logs records: idempotency key and the line's identity (`<event id>@<timestamp>`). */
  logRecords: ReadonlyArray<{ key: string; line: string }>;
  /** Line identities on app-logs.dlq. */
  logDeadLetters: ReadonlySet<string>;
  /** Loki entries' line identities, one per stored entry. */
  lokiLines: readonly string[];
  /**
   * Entries Loki dropped as identical to stored ones (same timestamp and line): lines pushed
   * again, by a retry or a redelivery. Not a fault: the log worker relies on it (log-line.ts).
   */
  lokiDuplicatesDropped: number;
  /**
   * db-results records per record id (`<event id>:<source offset>`): each copy's completion time
   * (ms) and the worker process that ran it (the `kitsune-worker` header). More than one copy
   * is a record processed again.
   */
  resultRecords: ReadonlyMap<string, readonly ResultCopy[]>;
}

export interface ResultCopy {
  at: number;
  worker: string | undefined;
}

export interface Figures {
  safety: {
    lost: number;
    duplicateEffects: number;
    effectsOf4xx: number;
    orderViolations: number;
    transientDeadLetters: number;
    unexpectedDeadLetters: number;
    logRecordsLost: number;
    logLinesMissing: number;
    logLinesDoubled: number;
    /** Records processed again while a DB worker stopped gracefully (SIGTERM) and came back. */
    redeliveredAfterGracefulStop: number;
  };
  ops: { total: number; ok: number; fail: number; unknown: number; unknownApplied: number; poison: number; raw: number; retriedAttempts: number };
  deadLetters: number;
  /** What was read back, so a 0 above is seen to be about something. */
  readBack: { effects: number; appLogRecords: number; lokiLines: number; logDeadLetters: number; lokiDuplicatesDropped: number };
  redeliveredRecords: number;
  /** Examples of each non-zero safety figure, for the report. */
  examples: Record<string, string[]>;
}

/** SQLSTATE classes Kitsune retries (DESIGN.md §4): a dead letter with one of them is a bug. */
export const isTransientSqlstate = (sqlstate: string | undefined): boolean =>
  sqlstate !== undefined && (/^(08|53)/.test(sqlstate) || /^57P0/.test(sqlstate) || sqlstate === '40001' || sqlstate === '40P01');

export function check(history: readonly HistoryEntry[], observed: Observed): Figures {
  const ops = outcomes(history);
  const examples: Record<string, string[]> = {};
  const note = (figure: string, example: string): void => {
    const list = (examples[figure] ??= []);
    if (list.length < 5) list.push(example);
  };

  const effectsByOp = new Map<string, number>();
  for (const effect of observed.effects) effectsByOp.set(effect.op, (effectsByOp.get(effect.op) ?? 0) + 1);
  const deadByKey = new Map<string, number>();
  for (const dead of observed.deadLetters) if (dead.key !== undefined) deadByKey.set(dead.key, (deadByKey.get(dead.key) ?? 0) + 1);
  const logKeys = new Set(observed.logRecords.map((record) => record.key));

  let lost = 0;
  let effectsOf4xx = 0;
  let unknownApplied = 0;
  let logRecordsLost = 0;
  let unexpectedDeadLetters = 0;
  let retriedAttempts = 0;
  const counts = { ok: 0, fail: 0, unknown: 0, poison: 0, raw: 0 };
  for (const [key, { op, outcome, attempts }] of ops) {
    counts[outcome]++;
    retriedAttempts += attempts - 1;
    const applied = effectsByOp.get(key) ?? 0;
    const dead = deadByKey.get(key) ?? 0;
    if (op.kind === 'poison') counts.poison++;
    if (op.kind === 'raw') counts.raw++;
    // A raw record must end in the DLQ: one that took effect instead is as lost as one with no outcome.
    if (outcome === 'ok' && dead === 0 && (op.kind === 'raw' || applied === 0)) {
      lost++;
      const places = observed.dbEventRecords.get(key) ?? [];
      const where = places.length === 0 ? 'not on db-events' : `on db-events at ${places.map((at) => `p${at.partition}@${at.offset}`).join(', ')}`;
      note('lost', `${key} (${op.entity} step ${op.seq}, ${op.kind}; ${where})`);
    }
    // A raw record has no log line: nothing was sent to app-logs for it.
    if (outcome === 'ok' && op.kind !== 'raw' && !logKeys.has(key)) {
      logRecordsLost++;
      note('logRecordsLost', key);
    }
    if (outcome === 'fail' && applied > 0) {
      effectsOf4xx++;
      note('effectsOf4xx', key);
    }
    if (outcome === 'unknown' && applied > 0) unknownApplied++;
    if (op.kind !== 'poison' && op.kind !== 'raw' && dead > 0) {
      unexpectedDeadLetters++;
      note('unexpectedDeadLetters', key);
    }
  }

  let duplicateEffects = 0;
  for (const [op, count] of effectsByOp) {
    if (count > 1) {
      duplicateEffects += count - 1;
      note('duplicateEffects', `${op} applied ${count} times`);
    }
  }

  let orderViolations = 0;
  const lastSeq = new Map<string, number>();
  for (const effect of observed.effects) {
    const previous = lastSeq.get(effect.entity);
    if (previous !== undefined && effect.seq <= previous) {
      orderViolations++;
      note('orderViolations', `${effect.entity}: step ${effect.seq} applied after step ${previous} (${effect.op})`);
    }
    lastSeq.set(effect.entity, Math.max(previous ?? 0, effect.seq));
  }

  let transientDeadLetters = 0;
  for (const dead of observed.deadLetters) {
    if (isTransientSqlstate(dead.sqlstate)) {
      transientDeadLetters++;
      note('transientDeadLetters', `${dead.key ?? '?'} (SQLSTATE ${dead.sqlstate})`);
    }
  }

  const lokiCount = new Map<string, number>();
  for (const line of observed.lokiLines) lokiCount.set(line, (lokiCount.get(line) ?? 0) + 1);
  let logLinesMissing = 0;
  for (const line of new Set(observed.logRecords.map((record) => record.line))) {
    if (!lokiCount.has(line) && !observed.logDeadLetters.has(line)) {
      logLinesMissing++;
      note('logLinesMissing', line);
    }
  }
  // Doubled lines are counted per event: each distinct app-logs record of an event (a client's
  // retry may make another, with its own timestamp) may be stored once. Counting by
  // `id@timestamp` alone would miss a line stored again under another timestamp.
  const eventOf = (line: string): string => line.slice(0, line.lastIndexOf('@'));
  const recordsOf = new Map<string, Set<string>>();
  for (const { line } of observed.logRecords) recordsOf.set(eventOf(line), (recordsOf.get(eventOf(line)) ?? new Set()).add(line));
  const storedOf = new Map<string, number>();
  for (const [line, count] of lokiCount) storedOf.set(eventOf(line), (storedOf.get(eventOf(line)) ?? 0) + count);
  let logLinesDoubled = 0;
  for (const [event, stored] of storedOf) {
    const extra = stored - Math.max(1, recordsOf.get(event)?.size ?? 0);
    if (extra > 0) {
      logLinesDoubled += extra;
      note('logLinesDoubled', `event ${event}: ${stored} lines in Loki for ${recordsOf.get(event)?.size ?? 0} app-logs record(s)`);
    }
  }

  // A graceful stop commits what it finished: nothing the stopped worker ran may be run again
  // once it stops. Records the other members run again meanwhile are theirs: a rebalance takes
  // partitions from them before they commit, and they do not commit for partitions they lost.
  const graceful = faultWindows(history, 'sigterm db-worker');
  let redeliveredRecords = 0;
  let redeliveredAfterGracefulStop = 0;
  for (const [id, copies] of observed.resultRecords) {
    if (copies.length < 2) continue;
    redeliveredRecords += copies.length - 1;
    const [first, ...again] = [...copies].sort((a, b) => a.at - b.at);
    // Run first by the stopped worker (before its stop or while it drained), and again after it began.
    const ranBy = (worker: string | undefined, from: number): boolean => worker !== undefined && first?.worker === worker && again.some(({ at }) => at >= from);
    if (first && graceful.some(({ from, detail }) => ranBy(stoppedWorkerOf(detail), from))) {
      redeliveredAfterGracefulStop++;
      note('redeliveredAfterGracefulStop', `${id}: first run by ${first.worker}, which then stopped gracefully; run again at ${again.map(({ at }) => new Date(at).toISOString()).join(', ')}`);
    }
  }

  return {
    safety: { lost, duplicateEffects, effectsOf4xx, orderViolations, transientDeadLetters, unexpectedDeadLetters, logRecordsLost, logLinesMissing, logLinesDoubled, redeliveredAfterGracefulStop },
    ops: { total: ops.size, ...counts, unknownApplied, retriedAttempts },
    deadLetters: observed.deadLetters.length,
    readBack: { effects: observed.effects.length, appLogRecords: observed.logRecords.length, lokiLines: observed.lokiLines.length, logDeadLetters: observed.logDeadLetters.size, lokiDuplicatesDropped: observed.lokiDuplicatesDropped },
    redeliveredRecords,
    examples,
  };
}

/** The worker a graceful stop's start entry names (`worker <host/pid>`), as its `kitsune-worker` header says it. */
export const stoppedWorkerDetail = (worker: string): string => `worker ${worker}`;
const stoppedWorkerOf = (detail: string | undefined): string | undefined => (detail?.startsWith('worker ') ? detail.slice('worker '.length) : undefined);

/** Each run of `fault` in the history: its start and end, and its start entry's detail. */
export function faultWindows(history: readonly HistoryEntry[], fault: string): Array<{ from: number; to: number; detail: string | undefined }> {
  const windows: Array<{ from: number; to: number; detail: string | undefined }> = [];
  let open: { from: number; detail: string | undefined } | undefined;
  for (const entry of history) {
    if (entry.type !== 'nemesis' || entry.fault !== fault) continue;
    if (entry.phase === 'start') open = { from: entry.t, detail: entry.detail };
    else if (open !== undefined) {
      windows.push({ ...open, to: entry.t });
      open = undefined;
    }
  }
  return windows;
}
