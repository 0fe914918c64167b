/**
 * README.md's five-minute tour, run as written against a fresh `kitsune start`, so the README
 * cannot drift from the product. Each command of the tour's `sh` blocks runs in bash; a `# …` line
 * under a command is the output it must show (`…` stands for anything). The only rewrites are the
 * ones a reader makes: the URL of this test's instance for 127.0.0.1:8080, the id from the first
 * answer for `<id>`, and this checkout's bin/kitsune.js for `npx kitsune`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { repoRoot } from '../../scripts/services/state.ts';
import { cliEnv, dataDir, startKitsune } from '../cli/support.ts';

interface Step {
  command: string;
  expected: string[];
}

/** The tour's commands and their expected output lines, in order. */
export function tourSteps(readme: string): Step[] {
  const start = readme.indexOf('## A five-minute tour');
  const end = readme.indexOf('\n## ', start + 1);
  assert.ok(start >= 0 && end > start, 'README.md has a "A five-minute tour" section');
  const steps: Step[] = [];
  for (const block of readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)) {
    let pending = '';
    for (const line of block[1]!.split('\n')) {
      if (pending === '' && line.startsWith('# ')) {
        steps.at(-1)?.expected.push(line.slice(2));
        continue;
      }
      if (pending === '' && line.trim() === '') continue;
      pending += `${pending === '' ? '' : '\n'}${line}`;
      // A command goes on while it ends with a backslash or leaves a single quote open.
      const quotes = (pending.match(/'/g) ?? []).length;
      if (!pending.endsWith('\\') && quotes % 2 === 0) {
        steps.push({ command: pending, expected: [] });
        pending = '';
      }
    }
  }
  return steps;
}

/** `…` matches anything (across lines); the rest literally. */
const pattern = (expected: string): RegExp =>
  new RegExp(
    expected
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[\\s\\S]*?'),
  );

/** Read-only steps may be repeated until their output appears (the worker runs asynchronously). */
const readOnly = (command: string): boolean => !/-X POST|kitsune send|kitsune dlq replay(?! --dry-run)/.test(command);

test('the README tour runs as written, from a fresh data directory', { timeout: 300_000 }, async (t) => {
  const steps = tourSteps(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
  assert.ok(steps.length >= 8, `the tour has its steps (found ${steps.length})`);
  const dir = await dataDir(t);
  await chmod(dir, 0o755);
  const env = { KITSUNE_DATA_DIR: dir };
  const running = await startKitsune(t, env, 120_000);
  const port = new URL(running.url).port;
  let id: string | undefined;

  for (const step of steps) {
    assert.ok(!step.command.includes('<id>') || id !== undefined, `an id is known before: ${step.command}`);
    const command = step.command
      .replaceAll('http://127.0.0.1:8080', running.url)
      .replaceAll('npx kitsune', `node ${join(repoRoot, 'bin', 'kitsune.js')}`)
      .replaceAll('<id>', id ?? '');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const run = spawnSync('bash', ['-c', command], { cwd: repoRoot, env: cliEnv({ ...env, HTTP_PORT: port }), encoding: 'utf8', timeout: 60_000 });
      const output = `${run.stdout}${run.stderr}`;
      const missing = step.expected.find((line) => !pattern(line).test(output));
      if (missing === undefined) {
        id ??= /"id":"([0-9a-f-]{36})"/.exec(run.stdout)?.[1];
        break;
      }
      if (!readOnly(step.command) || Date.now() > deadline) {
        assert.fail(`README step\n  ${step.command}\nshould show\n  ${missing}\nbut printed\n${output}`);
      }
      await sleep(250);
    }
  }
});
