#!/usr/bin/env node
// The `kitsune` command. Runs the compiled build in dist/ when `npm run build` made it from the
// sources as they are now; otherwise runs src/ through tsx's loader, so an edit is never shadowed
// by an old build. See docs/decisions/0011-compiled-build.md.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprintMatches } from './fingerprint.js';

const root = join(import.meta.dirname, '..');

function currentBuild() {
  let info;
  try {
    info = JSON.parse(readFileSync(join(root, 'dist', 'build-info.json'), 'utf8'));
  } catch {
    return false; // never built: the usual case in development
  }
  // Sources edited since the build (development): run them, quietly; `npm run build` refreshes dist/.
  return fingerprintMatches(info.sources, join(root, 'src'));
}

if (currentBuild()) {
  await import('../dist/cli/index.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/index.ts');
}
