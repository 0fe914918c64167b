/**
 * Child processes of the embedded server's start path. Every spawn here handles its 'error'
 * event (EACCES, ENOENT, ...): a failure becomes an error saying what to do, never an unhandled
 * event that kills the process with a stack trace.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, KitsuneError } from '../../errors.ts';

/** An embedded-server failure whose message is the whole explanation (the CLI prints no stack). */
export function embeddedFailure(message: string, cause?: unknown): KitsuneError {
  return new KitsuneError(ErrorCodes.EMBEDDED_POSTGRES_FAILED, message, { retryable: false, cause });
}

export interface ToolRun {
  code: number;
  output: string;
}

/**
 * Runs `file` to its end and resolves with its exit code and combined output. Rejects only when
 * it could not be started at all, with `cannotStart(error)` as the explanation.
 */
export function runTool(
  file: string,
  args: readonly string[],
  options: Pick<SpawnOptions, 'uid' | 'gid' | 'env' | 'cwd'>,
  cannotStart: (error: NodeJS.ErrnoException) => string,
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (error: NodeJS.ErrnoException) => reject(embeddedFailure(cannotStart(error), error)));
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
  });
}

/**
 * Sends `signal` to `pid` and waits until it is gone, escalating to SIGKILL after `timeoutMs`.
 * SIGINT is PostgreSQL's fast shutdown; SIGTERM is Kafka's controlled shutdown.
 */
export async function stopByPid(pid: number, signal: NodeJS.Signals = 'SIGINT', timeoutMs = 30_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return; // gone between the check and the signal
    throw error;
  }
  const deadline = Date.now() + timeoutMs;
  let killed = false;
  while (isAlive(pid)) {
    if (!killed && Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      killed = true;
    } else if (killed && Date.now() > deadline + 10_000) {
      throw new Error(`process ${pid} survived SIGKILL`);
    }
    await sleep(50);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
