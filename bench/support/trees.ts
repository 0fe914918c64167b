/**
 * The builds a benchmark runs: this checkout's dist/ (rebuilt when src/ changed since the last
 * build), and, for bench/compare.ts, another commit's tree exported under .kitsune/bench/trees/
 * with this checkout's node_modules linked in and built the same way. Each role then runs as a
 * user's install runs it: bin/kitsune.js on the compiled build.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprintMatches } from '../../bin/fingerprint.js';
import { repoRoot } from '../../scripts/services/state.ts';

function builtFromSources(root: string): boolean {
  try {
    const info = JSON.parse(readFileSync(join(root, 'dist', 'build-info.json'), 'utf8')) as { sources: Record<string, string> };
    return fingerprintMatches(info.sources, join(root, 'src'));
  } catch {
    return false; // no build yet
  }
}

const buildArgs = (root: string): string[] => ['--import', 'tsx', join(root, 'scripts', 'build.ts')];

/** Builds `root`'s dist/ unless it matches its src/; true when it built. */
export function ensureBuild(root = repoRoot): boolean {
  if (builtFromSources(root)) return false;
  execFileSync(process.execPath, buildArgs(root), { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  return true;
}

/** ensureBuild() without blocking, so the services can start meanwhile; resolves true when it built. */
export async function ensureBuildAsync(root = repoRoot): Promise<boolean> {
  if (builtFromSources(root)) return false;
  await new Promise<void>((resolveBuild, reject) => {
    const child = spawn(process.execPath, buildArgs(root), { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolveBuild() : reject(new Error(`building dist/ failed (exit ${code})`))));
  });
  return true;
}

const git = (...args: string[]): string => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();

/**
 * The tree of commit `ref`, exported once (git archive) and built. Its dependencies are this
 * checkout's node_modules, so a commit whose package-lock.json differs is refused.
 */
export function commitTree(ref: string): { root: string; commit: string } {
  const commit = git('rev-parse', '--verify', `${ref}^{commit}`);
  const short = commit.slice(0, 12);
  const lockChanged = git('diff', '--name-only', commit, '--', 'package-lock.json') !== '';
  if (lockChanged) throw new Error(`${ref} (${short}) has other dependencies (package-lock.json differs); compare against a commit with the same lock file`);
  const root = join(repoRoot, '.kitsune', 'bench', 'trees', short);
  if (!existsSync(join(root, 'dist', 'build-info.json'))) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C '${root}'`], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
    symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  }
  ensureBuild(root);
  return { root, commit: short };
}
