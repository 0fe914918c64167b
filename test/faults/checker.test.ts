import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check, stoppedWorkerDetail, type Observed } from './checker.ts';
import type { HistoryEntry, Op } from './history.ts';
import { seeded } from './random.ts';
import { schedule, smokeFaults } from './schedule.ts';

const op = (key: string, entity: string, seq: number, kind: Op['kind'] = 'step'): Op => ({ key, client: 0, entity, seq, kind });

/** A history where each op is invoked once and answered `type`. */
function historyOf(...answers: Array<[Op, 'ok' | 'fail' | 'unknown']>): HistoryEntry[] {
  return answers.flatMap(([o, type], t) => [
    { type: 'invoke', t, key: o.key, attempt: 1, api: 'a', op: o } as const,
    { type, t: t + 1, key: o.key, attempt: 1, api: 'a' } as const,
  ]);
}

const line = (key: string): string => `${key}@1`;

/** What a correct run would leave behind for these ops. */
function healthy(ops: Op[]): Observed {
  return {
    effects: ops.filter((o) => o.kind === 'step').map((o) => ({ entity: o.entity, seq: o.seq, op: o.key })),
    dbEventRecords: new Map(ops.map((o, i) => [o.key, [{ partition: 0, offset: BigInt(i) }]])),
    deadLetters: ops.filter((o) => o.kind === 'poison').map((o) => ({ key: o.key, sqlstate: '22012' })),
    logRecords: ops.map((o) => ({ key: o.key, line: line(o.key) })),
    logDeadLetters: new Set(),
    lokiLines: ops.map((o) => line(o.key)),
    lokiDuplicatesDropped: 0,
    resultRecords: new Map(),
  };
}

const a1 = op('op-1', 'e1', 1);
const a2 = op('op-2', 'e1', 2);
const b1 = op('op-3', 'e2', 1, 'poison');
const ops = [a1, a2, b1];
const zero = { lost: 0, duplicateEffects: 0, effectsOf4xx: 0, orderViolations: 0, transientDeadLetters: 0, unexpectedDeadLetters: 0, logRecordsLost: 0, logLinesMissing: 0, logLinesDoubled: 0, redeliveredAfterGracefulStop: 0 };

test('a run that kept every promise has every safety figure at 0', () => {
  const figures = check(historyOf([a1, 'ok'], [a2, 'ok'], [b1, 'ok']), healthy(ops));
  assert.deepEqual(figures.safety, zero);
  assert.equal(figures.ops.ok, 3);
});

test('the checker counts a lost event, a duplicate effect and an effect of a 4xx', () => {
  const observed = healthy(ops);
  const figures = check(historyOf([a1, 'ok'], [a2, 'fail'], [b1, 'ok']), {
    ...observed,
    // a1 twice; a2 (answered 400) applied; b1's dead letter gone.
    effects: [observed.effects[0]!, observed.effects[0]!, observed.effects[1]!],
    deadLetters: [],
  });
  assert.equal(figures.safety.lost, 1);
  assert.equal(figures.safety.duplicateEffects, 1);
  assert.equal(figures.safety.effectsOf4xx, 1);
});

test('a lost event says whether its record is on db-events (a consumer-side loss) or not (a producer-side one)', () => {
  const observed = healthy(ops);
  const onTopic = check(historyOf([a1, 'ok'], [a2, 'ok'], [b1, 'ok']), { ...observed, effects: [observed.effects[0]!] });
  assert.equal(onTopic.safety.lost, 1);
  assert.deepEqual(onTopic.examples.lost, ['op-2 (e1 step 2, step; on db-events at p0@1)']);
  const absent = check(historyOf([a1, 'ok'], [a2, 'ok'], [b1, 'ok']), {
    ...observed,
    effects: [observed.effects[0]!],
    dbEventRecords: new Map([...observed.dbEventRecords].filter(([key]) => key !== 'op-2')),
  });
  assert.deepEqual(absent.examples.lost, ['op-2 (e1 step 2, step; not on db-events)']);
});

test('a raw poison record is kept only by a dead letter: none, or an effect instead, counts as lost; it needs no log line', () => {
  const raw = op('op-4', 'e2', 2, 'raw');
  const all = [...ops, raw];
  const observed = { ...healthy(all), logRecords: healthy(ops).logRecords, lokiLines: healthy(ops).lokiLines };
  const history = historyOf([a1, 'ok'], [a2, 'ok'], [b1, 'ok'], [raw, 'ok']);
  const deadLettered = check(history, { ...observed, deadLetters: [...observed.deadLetters, { key: 'op-4', sqlstate: undefined }] });
  assert.deepEqual(deadLettered.safety, zero);
  assert.equal(deadLettered.ops.raw, 1);
  assert.equal(check(history, observed).safety.lost, 1);
  const applied = check(history, { ...observed, effects: [...observed.effects, { entity: 'e2', seq: 2, op: 'op-4' }] });
  assert.equal(applied.safety.lost, 1);
});

test('an entity step applied after a later one is an order violation; a transient dead letter is counted', () => {
  const observed = healthy(ops);
  const figures = check(historyOf([a1, 'ok'], [a2, 'ok'], [b1, 'ok']), {
    ...observed,
    effects: [observed.effects[1]!, observed.effects[0]!],
    deadLetters: [{ key: b1.key, sqlstate: '22012' }, { key: a1.key, sqlstate: '08006' }],
  });
  assert.equal(figures.safety.orderViolations, 1);
  assert.equal(figures.safety.transientDeadLetters, 1);
  assert.equal(figures.safety.unexpectedDeadLetters, 1);
});

test('log lines missing from Loki and the DLQ, or stored twice, are counted', () => {
  const observed = healthy(ops);
  const figures = check(historyOf([a1, 'ok'], [a2, 'ok'], [b1, 'ok']), { ...observed, lokiLines: [line(a1.key), line(a1.key), line(a2.key)] });
  assert.equal(figures.safety.logLinesMissing, 1);
  assert.equal(figures.safety.logLinesDoubled, 1);
});

test('a line stored again under another timestamp is doubled; a client retry that made a second record is not', () => {
  const again = { ...healthy(ops), lokiLines: [line(a1.key), `${a1.key}@2`, line(a2.key), line(b1.key)] };
  assert.equal(check(historyOf([a1, 'ok'], [a2, 'ok'], [b1, 'ok']), again).safety.logLinesDoubled, 1);
  const retried = { ...again, logRecords: [...again.logRecords, { key: a1.key, line: `${a1.key}@2` }] };
  assert.deepEqual(check(historyOf([a1, 'ok'], [a2, 'ok'], [b1, 'ok']), retried).safety, zero);
});

test('an unknown outcome may or may not have taken effect, and a 4xx after an unknown attempt proves nothing', () => {
  const history: HistoryEntry[] = [
    { type: 'invoke', t: 0, key: a1.key, attempt: 1, api: 'a', op: a1 },
    { type: 'unknown', t: 1, key: a1.key, attempt: 1, api: 'a', error: 'TimeoutError' },
    { type: 'invoke', t: 2, key: a1.key, attempt: 2, api: 'b' },
    { type: 'fail', t: 3, key: a1.key, attempt: 2, api: 'b', status: 409 },
  ];
  const figures = check(history, healthy([a1]));
  assert.deepEqual(figures.safety, zero);
  assert.equal(figures.ops.unknown, 1);
  assert.equal(figures.ops.unknownApplied, 1);
});

test('a seed gives the same fault schedule every time', () => {
  assert.deepEqual(schedule(seeded(42), smokeFaults), schedule(seeded(42), smokeFaults));
  assert.notDeepEqual(schedule(seeded(42), smokeFaults), schedule(seeded(43), smokeFaults));
});

test('a record the gracefully stopped worker ran and that ran again is counted; one another member ran first, or one run again after a kill, is not', () => {
  const history: HistoryEntry[] = [
    ...historyOf([a1, 'ok'], [a2, 'ok'], [b1, 'ok']),
    { type: 'nemesis', t: 100, phase: 'start', fault: 'kill db-worker', target: 'db-worker-1', detail: stoppedWorkerDetail('h/11') },
    { type: 'nemesis', t: 200, phase: 'end', fault: 'kill db-worker', target: 'db-worker-1' },
    { type: 'nemesis', t: 300, phase: 'start', fault: 'sigterm db-worker', target: 'db-worker-2', detail: stoppedWorkerDetail('h/22') },
    { type: 'nemesis', t: 400, phase: 'end', fault: 'sigterm db-worker', target: 'db-worker-2' },
  ];
  const resultRecords = new Map([
    // Run by the killed worker, again after the kill: at least once, not a graceful stop's.
    ['x:1', [{ at: 50, worker: 'h/11' }, { at: 150, worker: 'h/33' }]],
    // Run by the stopped worker before its stop, again during it: what it finished was not committed.
    ['x:2', [{ at: 250, worker: 'h/22' }, { at: 350, worker: 'h/33' }]],
    // Run by another member that lost the partition in the stop's rebalance.
    ['x:3', [{ at: 260, worker: 'h/33' }, { at: 360, worker: 'h/44' }]],
    ['x:4', [{ at: 270, worker: 'h/22' }]],
  ]);
  const figures = check(history, { ...healthy(ops), resultRecords });
  assert.equal(figures.redeliveredRecords, 3);
  assert.equal(figures.safety.redeliveredAfterGracefulStop, 1);
  assert.match(figures.examples['redeliveredAfterGracefulStop']?.[0] ?? '', /^x:2: first run by h\/22, which then stopped gracefully/);
});
