/**
 * A role run under Valgrind's callgrind, to count the instructions it executes for a piece of
 * load. Wall-clock and even CPU-time figures on a shared machine move by ±20 % from run to run;
 * an instruction count barely moves with the neighbours, so a difference of a few per cent
 * between two configurations can be read from it. The process runs 20–50× slower, so the load
 * is small and the figure is per event, not per second.
 *
 *   const api = await spawnRoleUnderCallgrind('api', env, dir);
 *   await warmUp();                   // let V8 tier the hot paths up first
 *   await api.zero();
 *   await measuredLoad();
 *   const instructions = await api.instructions();
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../scripts/services/state.ts';
import type { BodyKind } from './commands.ts';
import type { LoadChild } from './load-child.ts';
import { readyLines, spawnProcess, type Role, type Spawned } from './processes.ts';
import type { ForkedChild } from './rpc.ts';

const run = promisify(execFile);

export interface CallgrindRole extends Spawned {
  /** Sets the counters to zero: what runs after this is what `instructions()` counts. */
  zero(): Promise<void>;
  /** Instructions executed (every thread) since the last `zero()`. */
  instructions(): Promise<number>;
}

/** Whether valgrind is installed; the benches skip their instruction figures with a reason when not. */
export async function hasCallgrind(): Promise<boolean> {
  return run('valgrind', ['--version']).then(() => true, () => false);
}

/** Starts `kitsune <role>` under callgrind, writing its dumps into `dir` (one subfolder per process). */
export async function spawnRoleUnderCallgrind(role: Role, env: Record<string, string>, dir: string): Promise<CallgrindRole> {
  const out = join(dir, `${role}-${Date.now().toString(36)}`);
  mkdirSync(out, { recursive: true });
  const spawned = await spawnProcess({
    command: 'valgrind',
    args: ['--tool=callgrind', '--quiet', `--callgrind-out-file=${join(out, 'callgrind.out')}`, process.execPath, join(repoRoot, 'bin', 'kitsune.js'), role],
    env,
    ready: readyLines[role],
    timeoutMs: 600_000,
    label: `kitsune ${role} under callgrind`,
  });
  let dumps = 0;
  return {
    ...spawned,
    zero: async () => void (await run('callgrind_control', ['--zero', String(spawned.pid)])),
    instructions: async () => {
      await run('callgrind_control', ['--dump', String(spawned.pid)]);
      dumps += 1;
      // callgrind numbers its dumps from 1: callgrind.out.1, callgrind.out.2, …
      const file = readdirSync(out).find((name) => name === `callgrind.out.${dumps}`);
      if (!file) throw new Error(`callgrind wrote no dump ${dumps} into ${out}`);
      const summary = /^summary: (\d+)/m.exec(readFileSync(join(out, file), 'utf8'));
      if (!summary) throw new Error(`no summary line in ${join(out, file)}`);
      return Number(summary[1]);
    },
  };
}

/**
 * Instructions per event of `kitsune api` (started with `env`, listening at `url`) under
 * callgrind: 20 s of load first so V8 has tiered the hot paths up, then `seconds` counted, both
 * at 4 connections, with a minute before a request counts as timed out (a callgrind run is slow,
 * and a slow answer is still an answer: it is the instructions that are counted here).
 */
export async function apiInstructionsPerEvent(
  env: Record<string, string>,
  url: string,
  load: ForkedChild<LoadChild>,
  { kind, seconds }: { kind: BodyKind; seconds: number },
): Promise<number> {
  // Everything runs 20–50× slower under callgrind: give the boot's registry calls their time.
  const slow = { KITSUNE_SCHEMA_REGISTRY_TIMEOUT_MS: '120000', ...env };
  const api = await spawnRoleUnderCallgrind('api', slow, join(repoRoot, 'bench', 'results', 'callgrind'));
  try {
    await load.call('saturate', { url, kind, batchSize: 50, seconds: 20, connections: 4, timeoutSeconds: 60 });
    await api.zero();
    const run = await load.call('saturate', { url, kind, batchSize: 50, seconds, connections: 4, timeoutSeconds: 60 });
    const instructions = await api.instructions();
    const failed = Object.entries(run.statuses).reduce((sum, [status, n]) => (status.startsWith('2') ? sum : sum + n), run.errors);
    if (failed > 0) throw new Error(`${failed} requests failed under callgrind`);
    // Counted from the answers, not the rounded rate: under callgrind a run answers few requests.
    const answered = Object.entries(run.statuses).reduce((sum, [status, n]) => (status.startsWith('2') ? sum + n : sum), 0);
    if (answered === 0) throw new Error(`no request was answered in ${seconds} s under callgrind: raise --seconds`);
    return instructions / (answered * (kind === 'execute' ? 1 : 50));
  } finally {
    await api.stop(120_000);
  }
}
