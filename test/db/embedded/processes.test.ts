import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCodes, KitsuneError } from '../../../src/errors.ts';
import { runTool } from '../../../src/db/embedded/processes.ts';

const explain = (error: NodeJS.ErrnoException): string => `cannot start it (${error.code ?? '?'}): do this instead`;

test('a tool that cannot be started rejects with the explanation, never an unhandled error event', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kitsune-tool-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const notExecutable = join(dir, 'initdb');
  await writeFile(notExecutable, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
  await chmod(notExecutable, 0o644);

  for (const [file, code] of [[join(dir, 'missing'), 'ENOENT'], [notExecutable, 'EACCES']] as const) {
    await assert.rejects(runTool(file, [], {}, explain), (error: unknown) => {
      assert.ok(error instanceof KitsuneError);
      assert.equal(error.code, ErrorCodes.EMBEDDED_POSTGRES_FAILED);
      assert.equal(error.message, `cannot start it (${code}): do this instead`);
      return true;
    });
  }
});

test('a tool that runs resolves with its exit code and output, failing or not', async () => {
  // stdout and stderr are two pipes: their order in the output is not fixed, their content is.
  const failing = await runTool('sh', ['-c', 'echo out; echo err >&2; exit 3'], {}, explain);
  assert.equal(failing.code, 3);
  assert.deepEqual(failing.output.split('\n').filter(Boolean).sort(), ['err', 'out']);
  assert.deepEqual(await runTool('sh', ['-c', 'printf ok'], {}, explain), { code: 0, output: 'ok' });
});
