import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fingerprintMatches, sourceFingerprint } from '../../bin/fingerprint.js';

test('a build stays current until a source file is edited, added or removed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kitsune-fingerprint-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'db', 'sql'), { recursive: true });
  await writeFile(join(dir, 'index.ts'), 'export {};\n');
  await writeFile(join(dir, 'db', 'sql', 'events.sql'), '-- name: EventsGet\nSELECT 1\n');

  const built = sourceFingerprint(dir);
  assert.deepEqual(Object.keys(built).sort(), ['db/sql/events.sql', 'index.ts']);
  assert.ok(fingerprintMatches(built, dir), 'unchanged sources match');

  const later = new Date(Date.now() + 5_000);
  await utimes(join(dir, 'index.ts'), later, later);
  assert.ok(!fingerprintMatches(built, dir), 'an edited file (new mtime) makes the build stale');

  const edited = sourceFingerprint(dir);
  await writeFile(join(dir, 'extra.ts'), 'export {};\n');
  assert.ok(!fingerprintMatches(edited, dir), 'an added file makes the build stale');

  const added = sourceFingerprint(dir);
  await rm(join(dir, 'db', 'sql', 'events.sql'));
  assert.ok(!fingerprintMatches(added, dir), 'a removed file makes the build stale');
});
