/**
 * The test process `npm test` starts: Node's test runner over the files in the order given (its
 * command line, `node --test`, sorts them by name; `run()` keeps ours), each file in its own
 * process, the spec reporter on stdout. It writes the seconds each file took, start to end of its
 * process, to the JSON file named by --durations, and exits 1 when any test failed.
 *
 *   node --import tsx scripts/test-run.ts --concurrency 2 --durations out.json file...
 */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { repoRoot } from './services/state.ts';

const { values, positionals: files } = parseArgs({
  options: { concurrency: { type: 'string', default: '2' }, durations: { type: 'string' } },
  allowPositionals: true,
});

const seconds: Record<string, number> = {};
const stream = run({ files, concurrency: Number(values.concurrency) });
stream.on('test:fail', () => {
  process.exitCode = 1;
});
// A file's own entry is the widest at nesting 0: its process from spawn to exit.
stream.on('test:complete', (data) => {
  if (data.nesting !== 0 || data.file === undefined) return;
  const file = relative(repoRoot, data.file);
  seconds[file] = Math.max(seconds[file] ?? 0, data.details.duration_ms / 1000);
});
process.once('exit', () => {
  if (values.durations) writeFileSync(values.durations, `${JSON.stringify(seconds)}\n`);
});
stream.pipe(new spec()).pipe(process.stdout);
