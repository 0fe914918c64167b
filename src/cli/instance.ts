/**
 * The data directory's instance file, `<KITSUNE_DATA_DIR>/embedded.json`: which process owns the
 * embedded PostgreSQL in that directory, its DSN and, for `kitsune start`, its URL. It is both the
 * lock (created atomically; a second owner is refused while the first one lives) and how operator
 * commands find the embedded database.
 *
 * Liveness is the owner's PID, checked with signal 0 and, on Linux, its command line, so a file left
 * by a crash (or a PID reused after a reboot) is taken over rather than obeyed. The data directory
 * is local (the embedded cluster lives there), so a PID says enough.
 */
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive } from '../db/embedded.ts';
import { CliError, ExitCodes } from './exit-codes.ts';

export interface InstanceState {
  /** The process that owns the data directory. */
  kitsunePid: number;
  /** The command it runs: `start`, or `migrate`/`reset` while they hold the directory briefly. */
  command: string;
  /** Set once the embedded server accepts connections. */
  postgresPid?: number;
  dsn?: string;
  /** The API's URL, once it listens (`kitsune start`). */
  url?: string;
}

/** Where the instance file of `dataDir` is. */
export const instanceFilePath = (dataDir: string): string => join(dataDir, 'embedded.json');

/** The instance file's content, or undefined when there is none or it is not one Kitsune wrote. */
export async function readInstance(dataDir: string): Promise<InstanceState | undefined> {
  let text: string;
  try {
    text = await readFile(instanceFilePath(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  return parseInstance(text);
}

function parseInstance(text: string): InstanceState | undefined {
  try {
    const value = JSON.parse(text) as Partial<Record<keyof InstanceState, unknown>>;
    if (typeof value.kitsunePid !== 'number') return undefined;
    return {
      kitsunePid: value.kitsunePid,
      command: typeof value.command === 'string' ? value.command : 'start',
      ...(typeof value.postgresPid === 'number' ? { postgresPid: value.postgresPid } : {}),
      ...(typeof value.dsn === 'string' ? { dsn: value.dsn } : {}),
      ...(typeof value.url === 'string' ? { url: value.url } : {}),
    };
  } catch {
    return undefined;
  }
}

/** True while `pid` is a live Kitsune process (not just any process that reused the number). */
export function isKitsuneAlive(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return commandLine.includes('kitsune') || commandLine.includes('cli/index');
  } catch {
    return true; // no /proc (macOS): trust the PID
  }
}

/** "already running (pid 123, http://127.0.0.1:8080)", as the refusal and `kitsune status` say it. */
export function describeOwner(state: InstanceState): string {
  if (state.command !== 'start') return `kitsune ${state.command} (pid ${state.kitsunePid}) is using it`;
  return `already running (pid ${state.kitsunePid}${state.url ? `, ${state.url}` : ', still starting'})`;
}

export interface InstanceClaim {
  readonly dataDir: string;
  /** Adds fields to the instance file (atomically replaced, so readers never see half of it). */
  update(fields: Partial<InstanceState>): Promise<void>;
  /** Removes the file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/**
 * Makes this process the owner of `dataDir`, or throws exit 6 naming the owner. The file appears
 * whole in one step (written aside, then hard-linked into place), so two starts racing for the
 * directory cannot both win.
 */
export async function claimDataDir(dataDir: string, command: string): Promise<InstanceClaim> {
  await mkdir(dataDir, { recursive: true });
  const path = instanceFilePath(dataDir);
  let state: InstanceState = { kitsunePid: process.pid, command };
  // Mode 600: once the server runs, the file holds its superuser DSN, password included.
  const write = async (target: string): Promise<void> => writeFile(target, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  const aside = `${path}.${process.pid}.tmp`;
  for (let attempt = 0; ; attempt++) {
    await write(aside);
    try {
      await link(aside, path);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === 2) throw error;
    } finally {
      await rm(aside, { force: true });
    }
    const owner = await readInstance(dataDir);
    if (owner && owner.kitsunePid !== process.pid && isKitsuneAlive(owner.kitsunePid)) throw alreadyRunning(owner, dataDir, command);
    // Left by a process that is gone: take it over.
    await rm(path, { force: true });
  }
  let released = false;
  return {
    dataDir,
    async update(fields) {
      if (released) return;
      state = { ...state, ...fields };
      await write(aside);
      await rename(aside, path);
    },
    async release() {
      if (released) return;
      released = true;
      const current = await readInstance(dataDir);
      if (current?.kitsunePid === process.pid) await rm(path, { force: true });
    },
  };
}

/**
 * Refuses (exit 6) when a live Kitsune already owns `dataDir`: the check a role makes before its
 * cheaper start-up steps, so a second `start` says "already running" rather than "port in use".
 * claimDataDir stays the authority; this only answers sooner.
 */
export async function refuseIfRunning(dataDir: string, command: string): Promise<void> {
  const owner = await readInstance(dataDir);
  if (owner && owner.kitsunePid !== process.pid && isKitsuneAlive(owner.kitsunePid)) throw alreadyRunning(owner, dataDir, command);
}

function alreadyRunning(owner: InstanceState, dataDir: string, command: string): CliError {
  return new CliError(
    ExitCodes.alreadyRunning,
    `kitsune ${command}: ${describeOwner(owner)} on the data directory ${dataDir}. ` +
      (owner.command === 'start'
        ? `Use that one, stop it first (kill ${owner.kitsunePid}), or set KITSUNE_DATA_DIR to another folder`
        : 'Wait for it to finish, or set KITSUNE_DATA_DIR to another folder'),
  );
}
