/**
 * Whether a PID recorded in state.json still is the process `up` started. PIDs are reused: a
 * service that died with the machine, or was killed, leaves its PID to whatever starts next, and
 * `up` must not hand that process to the tests as PostgreSQL or Kafka, nor `down` stop it.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { isAlive } from '../../src/db/embedded.ts';

/**
 * True while `pid` runs and its command line or working folder mentions `mark` (a path only the
 * service started by `up` has). Where there is no /proc to read, a live PID is all there is to go on.
 */
export function stillRuns(pid: number, mark: string): boolean {
  if (!isAlive(pid)) return false;
  if (process.platform !== 'linux') return true;
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return commandLine.includes(mark) || readlinkSync(`/proc/${pid}/cwd`).includes(mark);
  } catch {
    return false; // it ended while being looked at
  }
}
