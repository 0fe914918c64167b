/**
 * The operator docs name source and test files as the place to read more: every `src/…` and
 * `test/…` path that README.md or docs/*.md names must exist, so a rename or a deletion that
 * forgets the docs fails here instead of sending a reader to nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../scripts/services/state.ts';

/** Paths under src/ or test/ named in a Markdown text; globs (`*`, `{`) and placeholders (`<…>`) are skipped. */
export function namedPaths(markdown: string): string[] {
  const paths = new Set<string>();
  for (const match of markdown.matchAll(/(?<![\w./-])(?:src|test)\/[\w./*{}<>-]+/g)) {
    const path = match[0].replace(/[.:]+$/, '');
    if (!/[*{<]/.test(path)) paths.add(path);
  }
  return [...paths];
}

test('every src/ and test/ path that README.md and docs/*.md name exists', () => {
  const docs = ['README.md', ...readdirSync(join(repoRoot, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
  const missing: string[] = [];
  let checked = 0;
  for (const doc of docs) {
    for (const path of namedPaths(readFileSync(join(repoRoot, doc), 'utf8'))) {
      checked += 1;
      if (!existsSync(join(repoRoot, path))) missing.push(`${doc} names ${path}`);
    }
  }
  assert.ok(checked >= 10, `paths were found in the docs (${checked})`);
  assert.deepEqual(missing, [], `the docs name files that do not exist:\n  ${missing.join('\n  ')}`);
});
