/**
 * How dead letters are classified and how far the bookmark moves: pure functions of the records,
 * the registry and the idempotency rows, so they are tested on built records.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadRegistry, type Registry } from '../../src/commands/index.ts';
import { encodeEvent, type CommandEvent } from '../../src/events/envelope.ts';
import { advancedBookmarks, LetterStates, plan, type PlanOptions } from '../../src/dlq/plan.ts';
import { readDeadLetter, replayHeaders, replayMessage, type DeadLetter } from '../../src/dlq/records.ts';
import { idempotencyKeyOf } from '../../src/dlq/state.ts';
import { dlqHeaders } from '../../src/transport/dead-letter.ts';
import { repoRoot } from '../../scripts/services/state.ts';
import { deadLetterOf, userEvent } from './support.ts';

const registry: Registry = await loadRegistry(join(repoRoot, 'commands', 'registry.yaml'));

const event = (overrides: Partial<CommandEvent> = {}): CommandEvent => userEvent('ada@example.com', overrides);
const letter = deadLetterOf;

const options = (overrides: Partial<PlanOptions> = {}): PlanOptions => ({
  registry,
  pendingFrom: new Map([[0, 0n]]),
  applied: new Map(),
  maxReplays: 3,
  force: false,
  ...overrides,
});

describe('dead letters', () => {
  test('a dead letter reads back its reason, SQLSTATE, attempts, source position and failure time', () => {
    const l = letter(0, event());
    assert.equal(l.sqlstate, '23505');
    assert.equal(l.code, 'KITSUNE_STATEMENT_FAILED');
    assert.equal(l.attempts, 1);
    assert.deepEqual(l.source, { topic: 'db-events', partition: 2, offset: '40' });
    assert.equal(l.failedAt, '2025-01-01T00:00:00.000Z');
    assert.equal(l.replayCount, 0);
  });

  test('the replayed event has the original id, key and bytes, the original headers and a raised replay count, and no dlq headers', () => {
    const e = event();
    const l = letter(0, e);
    const out = replayMessage(l, new Date('2025-02-01T00:00:00Z'));
    assert.equal(out.id, e.id);
    assert.equal(out.key, 'ada@example.com');
    assert.ok(out.value.equals(encodeEvent(e)));
    assert.equal(out.headers?.traceparent, '00-abc-def-01');
    assert.equal(out.headers?.[replayHeaders.count], '1');
    assert.equal(out.headers?.[replayHeaders.replayedFrom], 'db-events.dlq/0/0');
    for (const name of Object.values(dlqHeaders)) assert.equal(out.headers?.[name], undefined, name);
  });

  test('the replay count survives the next dead letter, so the loop guard sees it', () => {
    const again = letter(1, event(), { [replayHeaders.count]: '2' });
    assert.equal(again.replayCount, 2);
    assert.equal(replayMessage(again, new Date()).headers?.[replayHeaders.count], '3');
  });
});

describe('plan', () => {
  test('a letter before the bookmark is handled, an older letter of the same event is superseded by the newer one', () => {
    const e = event();
    const planned = plan([letter(0, event()), letter(1, e), letter(2, e, { [replayHeaders.count]: '1' })], options({ pendingFrom: new Map([[0, 1n]]) }));
    assert.deepEqual(planned.map((p) => p.state), [LetterStates.handled, LetterStates.superseded, LetterStates.pending]);
    assert.equal(planned[1]!.detail, 'failed again, see 0:2');
  });

  test('an event whose idempotency key is recorded is applied, and --force replays it as a known duplicate', () => {
    const e = event();
    const applied = new Map([[idempotencyKeyOf('test', e.metadata.idempotency_key), { eventId: e.id, at: new Date('2025-01-02T00:00:00Z') }]]);
    assert.equal(plan([letter(0, e)], options({ applied }))[0]!.state, LetterStates.applied);
    const forced = plan([letter(0, e)], options({ applied, force: true }))[0]!;
    assert.equal(forced.state, LetterStates.pending);
    assert.equal(forced.alreadyApplied, true);
  });

  test('re-validation against the current registry names what is wrong', () => {
    const planned = plan(
      [letter(0, event({ command: 'drop_table' })), letter(1, event({ version: '9' })), letter(2, event({ payload: { name: 'Ada' } })), letter(3, event({ id: 'not-a-uuid' }))],
      options(),
    );
    assert.deepEqual(planned.map((p) => p.state), Array(4).fill(LetterStates.invalid));
    assert.equal(planned[0]!.detail, 'command drop_table is not in the current registry');
    assert.equal(planned[1]!.detail, 'command create_user has no version 9 in the current registry (known: 1)');
    assert.match(planned[2]!.detail!, /payload does not match create_user v1: .*email/);
    assert.match(planned[3]!.detail!, /not a UUID/);
  });

  test('bytes that are not an event are invalid, with the decoding error', () => {
    const l = letter(0, event());
    const broken: DeadLetter = readDeadLetter({ ...l.message, value: Buffer.from('{oops') });
    assert.equal(plan([broken], options())[0]!.detail, 'malformed event: not JSON');
  });

  test('the loop guard holds an event replayed maxReplays times, unless forced', () => {
    const l = letter(0, event(), { [replayHeaders.count]: '3' });
    assert.equal(plan([l], options())[0]!.state, LetterStates.exhausted);
    assert.equal(plan([l], options({ maxReplays: 4 }))[0]!.state, LetterStates.pending);
    assert.equal(plan([l], options({ force: true }))[0]!.state, LetterStates.pending);
  });

  test('with --id only the named events or positions are pending', () => {
    const a = event();
    const planned = plan([letter(0, a), letter(1, event()), letter(2, event())], options({ select: new Set([a.id, '0:2']) }));
    assert.deepEqual(planned.map((p) => p.state), [LetterStates.pending, LetterStates.unselected, LetterStates.pending]);
  });
});

describe('advancedBookmarks', () => {
  const partitions = [{ partition: 0, start: 0n, end: 5n, committed: 1n }];
  const readUpTo = new Map([[0, 5n]]);
  const fate = (offset: number, resolved: boolean): { letter: DeadLetter; resolved: boolean } => ({ letter: letter(offset, event()), resolved });

  test('the bookmark stops at the first unresolved dead letter', () => {
    assert.deepEqual(advancedBookmarks(partitions, readUpTo, [fate(1, true), fate(2, true), fate(3, false), fate(4, true)]), new Map([[0, 3n]]));
  });

  test('with everything resolved it moves to the end that was read', () => {
    assert.deepEqual(advancedBookmarks(partitions, readUpTo, [fate(1, true), fate(4, true)]), new Map([[0, 5n]]));
  });

  test('it never moves backwards', () => {
    assert.deepEqual(advancedBookmarks(partitions, readUpTo, [fate(0, false), fate(1, false)]), new Map());
  });
});
