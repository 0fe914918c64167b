/**
 * `npm run build`: compiles src/ to dist/ with tsc, copies the files tsc does not emit (the .sql
 * statements and migrations), and records a fingerprint of the sources it compiled. bin/kitsune.js
 * runs dist/ only while that fingerprint still matches src/, so a build never runs stale code.
 * Then Vite builds the console (console/) into dist/console, which the API serves at /console
 * whether it runs from dist/ or from src/.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './services/state.ts';
import { sourceFingerprint } from '../bin/fingerprint.js';

const src = join(repoRoot, 'src');
const dist = join(repoRoot, 'dist');

const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
if (!existsSync(tsc)) {
  // An install without dev dependencies: the kitsune command runs src/ through tsx instead.
  process.stdout.write('build: skipped, TypeScript is not installed (npm install without --omit=dev builds dist/)\n');
  process.exit(0);
}

// Taken before compiling: an edit made while tsc runs leaves the build stale, not falsely current.
const fingerprint = sourceFingerprint(src);
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', join(repoRoot, 'tsconfig.build.json')], { stdio: 'inherit' });
let assets = 0;
for (const file of Object.keys(fingerprint)) {
  if (file.endsWith('.ts')) continue;
  mkdirSync(dirname(join(dist, file)), { recursive: true });
  copyFileSync(join(src, file), join(dist, file));
  assets++;
}
const consoleStarted = Date.now();
// Imported here: an install without dev dependencies has no Vite, and stopped above.
const { build: viteBuild } = await import('vite');
await viteBuild({ configFile: join(repoRoot, 'console', 'vite.config.ts') });
process.stdout.write(`build: console built into dist/console in ${((Date.now() - consoleStarted) / 1000).toFixed(1)} s\n`);
writeFileSync(join(dist, 'build-info.json'), `${JSON.stringify({ builtAt: new Date().toISOString(), sources: fingerprint }, null, 1)}\n`);
process.stdout.write(`build: dist/ compiled from ${Object.keys(fingerprint).length - assets} modules, ${assets} assets copied\n`);
