/**
 * The order `npm test` starts its files in: longest first, from the seconds each file took in a
 * recorded run (scripts/test-durations.json, rewritten by `npm run test:durations`). Two lanes over
 * files in alphabetical order left the slowest file to start late and run alone at the end; started
 * first, it runs beside all the others (docs/decisions/0023-supported-node-versions.md, Update).
 *
 * A file the record does not know yet is placed as if it took the median of the known files: after
 * the slow ones, before the quick ones. Only the order depends on the figures, never a verdict.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from './services/state.ts';

export const durationsFile = join(repoRoot, 'scripts', 'test-durations.json');

/** Seconds per test file, keyed by its path relative to the repository root. */
export type Durations = Record<string, number>;

interface DurationsRecord {
  about: string;
  seconds: Durations;
}

const about =
  'Seconds each test file took in a recorded full run; npm test starts the longest first. ' +
  'Rewrite with `npm run test:durations` after adding or slowing down a test file.';

export function longestFirst(files: readonly string[], seconds: Durations): string[] {
  const known = Object.values(seconds).sort((a, b) => a - b);
  const unknown = known.length > 0 ? (known[Math.floor(known.length / 2)] ?? 0) : 0;
  return files
    .map((file) => ({ file, seconds: seconds[file] ?? unknown }))
    .sort((a, b) => b.seconds - a.seconds || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map(({ file }) => file);
}

export async function readDurations(): Promise<Durations> {
  if (!existsSync(durationsFile)) return {};
  const record = JSON.parse(await readFile(durationsFile, 'utf8')) as Partial<DurationsRecord>;
  return record.seconds ?? {};
}

/**
 * Merges a run's figures into the record: measured files get their new figure, files that no
 * longer exist leave it, the rest keep theirs. Sorted by path so a rewrite diffs line by line.
 */
export async function writeDurations(measured: Durations, existing: readonly string[]): Promise<void> {
  const merged: Durations = { ...(await readDurations()), ...measured };
  const keep = new Set(existing);
  const seconds: Durations = {};
  for (const file of Object.keys(merged).sort()) {
    const value = merged[file];
    if (keep.has(file) && value !== undefined) seconds[file] = Math.round(value * 10) / 10;
  }
  const record: DurationsRecord = { about, seconds };
  await writeFile(durationsFile, `${JSON.stringify(record, null, 2)}\n`);
}
