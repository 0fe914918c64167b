/**
 * Freezing the test broker (SIGSTOP) one test at a time across the whole run. Test files run in
 * parallel processes: had two of them frozen the same broker at once, the first one's SIGCONT
 * would end the second one's outage early, and the second would see its request succeed. A lock
 * directory named after the broker's pid, created atomically with mkdir, makes freezes take turns.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid holding `lock`, or undefined while its holder is still writing it. */
function holder(lock: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(lock, 'holder'), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function acquire(lock: string): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'holder'), String(process.pid));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    // A test process that died while holding the lock cannot release it: its lock is taken over.
    const pid = holder(lock);
    if (pid !== undefined && !alive(pid)) rmSync(lock, { recursive: true, force: true });
    else await sleep(50); // another test's freeze lasts seconds; the test's timeout bounds the wait
  }
}

/**
 * Stops the broker `pid` once no other test has it frozen; the returned function resumes it and
 * lets the next test freeze it. Call that function in a `finally`.
 */
export async function freezeBroker(pid: number): Promise<() => void> {
  const lock = join(tmpdir(), `kitsune-test-broker-${pid}.freeze`);
  await acquire(lock);
  process.kill(pid, 'SIGSTOP');
  let thawed = false;
  return () => {
    if (thawed) return;
    thawed = true;
    try {
      process.kill(pid, 'SIGCONT');
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  };
}
