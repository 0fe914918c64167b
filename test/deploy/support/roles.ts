/**
 * Starts Kitsune roles from a replayed image tree the way the container would: the image's
 * ENTRYPOINT and ENV, the role as the command, cwd = its WORKDIR. As root, and where the kernel
 * allows it, each runs in a PID namespace of its own as an unprivileged user (nobody), so the
 * ENTRYPOINT's first program is PID 1 and Kitsune is not root, as in the image; elsewhere it
 * runs as the current user and says so once.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliEnv, type Env } from '../../cli/support.ts';

export interface ImageTree {
  /** The image's WORKDIR, as a folder here. */
  dir: string;
  entrypoint: string[];
  /** The image's ENV. */
  env: Record<string, string>;
}

export interface RunningRole {
  role: string;
  /** Host PID of the ENTRYPOINT's first program (PID 1 in its namespace when isolated). */
  pid: number;
  output(): string;
  /** SIGTERM to the entry point, then its exit code and how long the role took to stop. */
  stop(): Promise<{ code: number | null; ms: number }>;
}

const nobody = '65534';

/** Whether a user other than the owner may run `path`: it and every folder above it are o+x. */
function runnableByOthers(path: string): boolean {
  for (let at = realpathSync(path); ; at = dirname(at)) {
    if ((statSync(at).mode & 0o001) === 0) return false;
    if (at === dirname(at)) return true;
  }
}

/**
 * Whether roles run as PID 1 of their own namespace, as nobody: needs root, unshare, and a node
 * that nobody may run (one installed under /root may not be).
 */
export const isolated: boolean = (() => {
  if (process.getuid?.() !== 0 || !runnableByOthers(process.execPath)) return false;
  try {
    execFileSync('unshare', ['--pid', '--fork', '--kill-child', 'setpriv', `--reuid=${nobody}`, `--regid=${nobody}`, '--clear-groups', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!isolated) process.stderr.write('deploy tests: roles run as this user without a PID namespace (needs root, unshare and a node others may run); tini is then not PID 1\n');

/** The node that runs the tests is the one on PATH for `node` in the entry point. */
function imageEnv(tree: ImageTree, own: Env): NodeJS.ProcessEnv {
  const env = cliEnv({ ...tree.env, ...own });
  env.PATH = `${dirname(process.execPath)}:${env.PATH ?? ''}`;
  return env;
}

/** Runs the entry point with `args` and waits for its exit; for one-shot roles such as migrate. */
export async function runRole(tree: ImageTree, args: string[], env: Env, timeoutMs = 120_000): Promise<{ code: number | null; output: string }> {
  const child = launch(tree, args, env);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
  clearTimeout(timer);
  return { code, output };
}

function launch(tree: ImageTree, args: string[], env: Env): ChildProcess {
  const command = [...tree.entrypoint, ...args];
  const wrapped = isolated ? ['unshare', '--pid', '--fork', '--kill-child', 'setpriv', `--reuid=${nobody}`, `--regid=${nobody}`, '--clear-groups', ...command] : command;
  return spawn(wrapped[0]!, wrapped.slice(1), { cwd: tree.dir, env: imageEnv(tree, env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The PID that signals reach the entry point at: unshare's child when isolated. */
async function entryPid(child: ChildProcess): Promise<number> {
  const pid = child.pid ?? 0;
  if (!isolated) return pid;
  // A deadline, not a number of tries: on a loaded machine the fork can take seconds.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim();
    if (children !== '') return Number(children.split(' ')[0]);
    await sleep(10);
  }
  throw new Error('unshare started no child within 60 s');
}

/** GET http://127.0.0.1:<port><path>, resolving the status (0 when nothing answers). */
export function probe(port: number, path: string): Promise<number> {
  return new Promise((resolveStatus) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 5_000 }, (response) => {
      response.resume();
      resolveStatus(response.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveStatus(0));
    req.end();
  });
}

/**
 * Starts a long-running role and resolves once GET /healthz on `port` answers 200; stopped when
 * the test ends if it is still running.
 */
export async function startRole(t: TestContext, tree: ImageTree, role: string, port: number, env: Env, timeoutMs = 180_000): Promise<RunningRole> {
  const child = launch(tree, [role], env);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit((exitCode = code))));
  const pid = await entryPid(child);
  let stopping: Promise<{ code: number | null; ms: number }> | undefined;
  const stop = (): Promise<{ code: number | null; ms: number }> =>
    (stopping ??= (async () => {
      const started = Date.now();
      if (exitCode === undefined) process.kill(pid, 'SIGTERM');
      const code = await exited;
      return { code, ms: Date.now() - started };
    })());
  t.after(async () => {
    if (exitCode === undefined) await stop();
  });

  const deadline = Date.now() + timeoutMs;
  while ((await probe(port, '/healthz')) !== 200) {
    if (exitCode !== undefined) throw new Error(`${role} exited with ${exitCode} before /healthz answered:\n${output}`);
    if (Date.now() > deadline) throw new Error(`${role}: /healthz on port ${port} did not answer 200 within ${timeoutMs} ms:\n${output}`);
    await sleep(100);
  }
  return { role, pid, output: () => output, stop };
}
