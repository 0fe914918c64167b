/** How `kitsune dlq` prints: a table for people, `--json` for scripts. Pure functions of the reports. */
import type { DryRunOutcome } from '../../dlq/dry-run.ts';
import { LetterStates, type LetterState, type Planned } from '../../dlq/plan.ts';
import type { PurgeReport } from '../../dlq/purge.ts';
import type { DeadLetter } from '../../dlq/records.ts';
import type { ReplayReport } from '../../dlq/replay.ts';
import type { StoredResult } from '../../dlq/state.ts';

/** `1 dead letter`, `2 dead letters`. */
const letters = (n: number): string => `${n} dead letter${n === 1 ? '' : 's'}`;
const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const commandOf = (letter: DeadLetter): string => (letter.event ? `${letter.event.command} v${letter.event.version}` : '?');
const sourceOf = (letter: DeadLetter): string => (letter.source ? `${letter.source.topic}/${letter.source.partition}/${letter.source.offset}` : '?');

/** A dead letter as one JSON object (the `--json` shape of list and show). */
export function letterJson(p: Planned): Record<string, unknown> {
  const { letter } = p;
  return {
    position: letter.position,
    partition: letter.message.partition,
    offset: String(letter.message.offset),
    event_id: letter.eventId,
    command: letter.event?.command ?? null,
    version: letter.event?.version ?? null,
    reason: letter.reason,
    code: letter.code ?? null,
    sqlstate: letter.sqlstate ?? null,
    attempts: letter.attempts ?? null,
    source: letter.source ?? null,
    failed_at: letter.failedAt ?? null,
    replay_count: letter.replayCount,
    state: p.state,
    detail: p.detail ?? null,
  };
}

function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  return all.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n') + '\n';
}

export function formatList(topic: string, group: string, planned: readonly Planned[], all: boolean): string {
  if (planned.length === 0) return `${topic}: no dead letters ${all ? 'retained' : `after the bookmark of ${group}`}\n`;
  const counts = countStates(planned);
  const summary = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
  const rows = planned.map(({ letter, state }) => [
    letter.position,
    letter.eventId,
    commandOf(letter),
    letter.sqlstate ?? '-',
    String(letter.attempts ?? '-'),
    sourceOf(letter),
    letter.failedAt ?? '-',
    String(letter.replayCount),
    state,
    cut(letter.reason.replaceAll('\n', ' '), 90),
  ]);
  return (
    `${topic}: ${letters(planned.length)} (${summary})\n` +
    table(['POSITION', 'EVENT ID', 'COMMAND', 'SQLSTATE', 'ATTEMPTS', 'SOURCE', 'FAILED AT', 'REPLAYS', 'STATE', 'REASON'], rows)
  );
}

export function formatShow(topic: string, p: Planned, result: StoredResult | undefined): string {
  const { letter } = p;
  const lines = [
    `dead letter ${letter.position} of ${topic}`,
    `  state:         ${p.state}${p.detail ? ` (${p.detail})` : ''}`,
    `  event id:      ${letter.eventId}`,
    `  command:       ${commandOf(letter)}`,
    `  key:           ${letter.message.key ?? '-'}`,
    `  reason:        ${letter.reason}`,
    `  code:          ${letter.code ?? '-'}`,
    `  sqlstate:      ${letter.sqlstate ?? '-'}`,
    `  attempts:      ${letter.attempts ?? '-'}`,
    `  source:        ${sourceOf(letter)}`,
    `  failed at:     ${letter.failedAt ?? '-'}`,
    `  replays:       ${letter.replayCount}`,
    `  stored result: ${result ? `${result.status}${result.completed_at ? ` at ${result.completed_at.toISOString()}` : ''}` : 'none'}`,
    '  headers:',
    ...Object.entries(letter.message.headers).map(([name, value]) => `    ${name}: ${value}`),
    '  event:',
    ...(letter.event ? JSON.stringify(letter.event, null, 2).split('\n') : [letter.message.value.toString('utf8'), `(${letter.decodeError})`]).map((l) => `    ${l}`),
  ];
  return `${lines.join('\n')}\n`;
}

function countStates(planned: readonly Planned[]): Map<LetterState, number> {
  const counts = new Map<LetterState, number>();
  for (const { state } of planned) counts.set(state, (counts.get(state) ?? 0) + 1);
  return counts;
}

/** Dead letters a replay did not touch and why, one per line, with what to do. */
function held(planned: readonly Planned[]): string[] {
  const advice = new Map<LetterState, string>([
    [LetterStates.invalid, 'not replayable under the current registry: fix the registry (KITSUNE_REGISTRY), or purge them'],
    [LetterStates.exhausted, 'held by the loop guard: find out why they keep failing; --force replays them anyway'],
  ]);
  const lines: string[] = [];
  for (const [state, text] of advice) {
    const list = planned.filter((p) => p.state === state);
    if (list.length === 0) continue;
    lines.push(`  ${list.length} ${text}:`);
    for (const p of list.slice(0, 20)) lines.push(`    ${p.letter.position} ${p.letter.eventId}: ${p.detail ?? ''}`);
    if (list.length > 20) lines.push(`    ... and ${list.length - 20} more (kitsune dlq list)`);
  }
  return lines;
}

const failure = (o: DryRunOutcome): string =>
  `${o.transient ? 'transient, may pass later: ' : ''}${o.reason ?? o.status}${o.sqlstate ? ` (SQLSTATE ${o.sqlstate})` : ''}`;

export function formatReplay(topic: string, target: string, report: ReplayReport, options: { ratePerSecond: number }): string {
  const { planned } = report;
  const counts = countStates(planned);
  const skipped = [LetterStates.applied, LetterStates.superseded, LetterStates.unselected]
    .filter((s) => (counts.get(s) ?? 0) > 0)
    .map((s) => `${counts.get(s)} ${s}`);
  const lines: string[] = [];
  if (report.predictions) {
    const succeed = report.predictions.filter((o) => o.status === 'succeeded');
    const duplicate = report.predictions.filter((o) => o.status === 'duplicate');
    const fail = report.predictions.filter((o) => o.status !== 'succeeded' && o.status !== 'duplicate');
    lines.push(`dry run on ${topic}: ${letters(report.predictions.length)} pending, run in a transaction that was rolled back (nothing changed)`);
    lines.push(`  would succeed: ${succeed.length}`);
    if (duplicate.length > 0) lines.push(`  already applied (the worker would count duplicates): ${duplicate.length}`);
    lines.push(`  would fail:    ${fail.length}`);
    for (const o of fail.slice(0, 50)) lines.push(`    ${o.letter.position} ${o.letter.eventId} ${commandOf(o.letter)}: ${failure(o)}`);
    if (fail.length > 50) lines.push(`    ... and ${fail.length - 50} more`);
  } else if (report.replayed.length === 0) {
    lines.push(`nothing replayed: no pending dead letters on ${topic}`);
  } else {
    lines.push(`replayed ${letters(report.replayed.length)} to ${target} (at most ${options.ratePerSecond}/s), each with its original id and idempotency key`);
  }
  if (skipped.length > 0) lines.push(`  left alone: ${skipped.join(', ')}`);
  lines.push(...held(planned));
  if (report.bookmark.size > 0) {
    lines.push(`  bookmark moved: ${[...report.bookmark].map(([partition, offset]) => `partition ${partition} → offset ${offset}`).join(', ')}`);
  }
  if (report.duplicates.length > 0) {
    lines.push(`  ${letters(report.duplicates.length)} had already taken effect (--force): the worker acknowledges them as duplicates, no effect`);
  }
  if (report.outcomes) {
    const outcomes = report.replayed.filter((l) => !report.duplicates.includes(l)).map((l) => report.outcomes!.get(l.eventId));
    const succeeded = outcomes.filter((o) => o?.status === 'succeeded').length;
    const failed = outcomes.filter((o) => o?.status === 'dead_lettered').length;
    const none = outcomes.filter((o) => o === undefined).length;
    lines.push(`  outcomes: ${succeeded} succeeded, ${failed} failed again (back in ${topic}), ${none} not processed yet`);
    const again = report.replayed.filter((l) => !report.duplicates.includes(l) && report.outcomes!.get(l.eventId)?.status === 'dead_lettered');
    for (const letter of again.slice(0, 50)) {
      const error = report.outcomes.get(letter.eventId)?.error;
      const sqlstate = error?.sqlstate ? ` (SQLSTATE ${error.sqlstate})` : '';
      lines.push(`    ${letter.eventId} ${commandOf(letter)} failed again: ${error?.reason ?? 'no reason recorded'}${sqlstate}`);
    }
    if (again.length > 50) lines.push(`    ... and ${again.length - 50} more (\`kitsune dlq list\` shows them all)`);
  }
  if (report.predictions && report.predictions.length > 0) {
    lines.push(`Run \`kitsune dlq replay\` to replay them${report.predictions.some((o) => o.status !== 'succeeded') ? '; those that would fail return to the DLQ with their replay count raised' : ''}.`);
  } else if (!report.predictions && report.replayed.length > 0 && !report.outcomes) {
    lines.push('Follow them with `kitsune dlq list` (failures come back with a higher replay count) or GET /events/<id>.');
  }
  return `${lines.join('\n')}\n`;
}

export function replayJson(report: ReplayReport): Record<string, unknown> {
  return {
    dry_run: report.predictions !== undefined,
    states: Object.fromEntries(countStates(report.planned)),
    letters: report.planned.map(letterJson),
    predictions: report.predictions?.map((o) => ({ position: o.letter.position, event_id: o.letter.eventId, status: o.status, reason: o.reason ?? null, sqlstate: o.sqlstate ?? null, transient: o.transient })) ?? null,
    would_succeed: report.predictions?.filter((o) => o.status === 'succeeded').length ?? null,
    would_fail: report.predictions?.filter((o) => o.status !== 'succeeded' && o.status !== 'duplicate').length ?? null,
    replayed: report.replayed.map((l) => l.eventId),
    duplicates: report.duplicates.map((l) => l.eventId),
    bookmark: Object.fromEntries([...report.bookmark].map(([partition, offset]) => [partition, String(offset)])),
    outcomes: report.outcomes
      ? Object.fromEntries(report.replayed.filter((l) => !report.duplicates.includes(l)).map((l) => [l.eventId, report.outcomes!.get(l.eventId)?.status ?? 'pending']))
      : null,
  };
}

export function formatPurge(topic: string, report: PurgeReport, executed: boolean): string {
  if (report.dropped.length === 0) return `nothing to purge on ${topic}${report.kept.length > 0 ? ` (${letters(report.kept.length)} pending failed after --before)` : ''}\n`;
  const lines = [
    `${executed ? 'purged' : 'would purge'} ${letters(report.dropped.length)} of ${topic}${report.kept.length > 0 ? `; ${report.kept.length} stay pending` : ''}`,
    ...report.dropped.slice(0, 20).map((p) => `  ${p.letter.position} ${p.letter.eventId} ${commandOf(p.letter)} (${p.state}): ${cut(p.letter.reason, 80)}`),
    ...(report.dropped.length > 20 ? [`  ... and ${report.dropped.length - 20} more`] : []),
  ];
  if (!executed) lines.push('Nothing was dropped. Run again with --yes to drop them.');
  else lines.push('They stay readable with `kitsune dlq list --all` until the topic\'s retention removes them.');
  return `${lines.join('\n')}\n`;
}
