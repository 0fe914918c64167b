/**
 * The run's history, one JSON object per line, Jepsen style: every attempt of every operation as
 * `invoke` then `ok` (202), `fail` (a 4xx: nothing may come of it) or `unknown` (timeout, reset,
 * 429/5xx: it may or may not have taken effect), and every fault as `nemesis` start/end. The first
 * line names the seed and settings, so a run can be replayed.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * step: applied; poison: a valid event whose SQL fails for good (dead-lettered); invalid: refused
 * by the API (400); raw: a malformed record written straight to db-events by another producer,
 * beside the entity's good events (dead-lettered, and the partition moves on).
 */
export type OpKind = 'step' | 'poison' | 'invalid' | 'raw';

/** One operation as planned from the seed: record_step on `entity` at `seq`, under its own key. */
export interface Op {
  key: string;
  client: number;
  entity: string;
  seq: number;
  kind: OpKind;
}

export type HistoryEntry =
  | { type: 'run'; seed: number; tier: string; events: number; at: string; settings: Record<string, unknown> }
  | { type: 'invoke'; t: number; key: string; attempt: number; api: string; op?: Op }
  | { type: 'ok' | 'fail' | 'unknown'; t: number; key: string; attempt: number; api: string; status?: number; error?: string }
  | { type: 'nemesis'; t: number; phase: 'start' | 'end'; fault: string; target?: string; detail?: string };

export class History {
  readonly #out: WriteStream;
  readonly entries: HistoryEntry[] = [];

  constructor(readonly path: string) {
    this.#out = createWriteStream(path, { flags: 'w' });
  }

  add(entry: HistoryEntry): void {
    this.entries.push(entry);
    this.#out.write(`${JSON.stringify(entry)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolveClose, rejectClose) => this.#out.end((error?: Error | null) => (error ? rejectClose(error) : resolveClose())));
  }
}

export async function readHistory(path: string): Promise<HistoryEntry[]> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as HistoryEntry);
}

export interface OpOutcome {
  op: Op;
  /** ok: some attempt got 202; fail: every answer was a 4xx (none unknown, none 202); else unknown. */
  outcome: 'ok' | 'fail' | 'unknown';
  invokedAt: number;
  /** When the final answer came. */
  completedAt: number;
  attempts: number;
  /** Some attempt ended unknown: a later 4xx does not prove it had no effect. */
  sawUnknown: boolean;
}

/** Each operation's outcome, from its attempts. */
export function outcomes(entries: readonly HistoryEntry[]): Map<string, OpOutcome> {
  const byKey = new Map<string, OpOutcome>();
  for (const entry of entries) {
    if (entry.type === 'invoke') {
      const known = byKey.get(entry.key);
      if (known) known.attempts = entry.attempt;
      else if (entry.op) byKey.set(entry.key, { op: entry.op, outcome: 'unknown', invokedAt: entry.t, completedAt: entry.t, attempts: 1, sawUnknown: false });
    } else if (entry.type === 'ok' || entry.type === 'fail' || entry.type === 'unknown') {
      const known = byKey.get(entry.key);
      if (!known) continue;
      known.completedAt = entry.t;
      if (known.outcome === 'ok') continue;
      if (entry.type === 'unknown') known.sawUnknown = true;
      known.outcome = entry.type === 'fail' && known.sawUnknown ? 'unknown' : entry.type;
    }
  }
  return byKey;
}
