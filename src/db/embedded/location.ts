/**
 * Where an embedded cluster lives. As root, PostgreSQL runs as the `postgres` user, which cannot
 * enter a checkout under /root or a `mktemp -d` folder (mode 700). Such a cluster moves to
 * `/var/lib/kitsune/<hash>/postgres`, its server binaries beside it in `pg-<version>/`, and the
 * place it was asked for becomes a symbolic link to it: the data stays findable from the
 * checkout, and deleting the checkout (or its `.kitsune`) lets the next start reclaim the space.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { embeddedFailure, isAlive } from './processes.ts';

/** Parent of relocated clusters. */
export const relocationRoot = '/var/lib/kitsune';

export interface ClusterLocation {
  /** The directory the server runs on (`-D`). */
  dataDir: string;
  /** True when `dataDir` is under relocationRoot, reached from the requested path by a link. */
  relocated: boolean;
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * True when every directory above `path` can be entered by other users. As root the server runs
 * as the `postgres` user, so a data directory below /root (mode 700) would fail in initdb.
 */
export function reachableByOthers(path: string): boolean {
  let dir = dirname(resolve(path));
  while (!existsSync(dir)) dir = dirname(dir);
  for (let current = dir; ; current = dirname(current)) {
    if ((statSync(current).mode & fsConstants.S_IXOTH) === 0) return false;
    if (current === dirname(current)) return true;
  }
}

/** The requested path itself, or (as root, when the `postgres` user cannot reach it) its relocated home. */
export async function clusterLocation(requested: string): Promise<ClusterLocation> {
  const wanted = resolve(requested);
  if (!isRoot() || reachableByOthers(wanted)) return { dataDir: wanted, relocated: false };
  const home = join(relocationRoot, createHash('sha256').update(wanted).digest('hex').slice(0, 16));
  const dataDir = join(home, 'postgres');
  await sweepOrphans();
  const linked = await readlink(wanted).catch(() => undefined);
  if (linked !== undefined && resolve(dirname(wanted), linked) !== dataDir) {
    // The operator's own link: follow it; the server's start says so if it cannot reach it.
    return { dataDir: resolve(dirname(wanted), linked), relocated: false };
  }
  if (linked === undefined) {
    if (existsSync(wanted)) {
      throw embeddedFailure(
        `PostgreSQL runs as the 'postgres' user when Kitsune runs as root, and that user cannot enter ` +
          `the folders above ${wanted} (one of them is private, mode 700). Kitsune will not move an ` +
          `existing cluster on its own: move ${wanted} somewhere the 'postgres' user can reach and link ` +
          `it back, or allow entering the folders above it (chmod o+x), or run Kitsune as a non-root user.`,
      );
    }
    await mkdir(dirname(wanted), { recursive: true });
    await symlink(dataDir, wanted);
  }
  await mkdir(home, { recursive: true, mode: 0o755 });
  await writeFile(join(home, 'origin'), `${wanted}\n`);
  return { dataDir, relocated: true };
}

/**
 * Removes relocated clusters whose origin no longer links to them (the checkout or its data
 * directory was deleted) and whose server is not running. Never touches a running cluster.
 */
async function sweepOrphans(): Promise<void> {
  if (!existsSync(relocationRoot)) return;
  for (const entry of await readdir(relocationRoot, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const home = join(relocationRoot, entry.name);
    const origin = await readFile(join(home, 'origin'), 'utf8').catch(() => undefined);
    if (origin === undefined) continue;
    const linked = await readlink(origin.trim()).catch(() => undefined);
    if (linked === join(home, 'postgres') || runningPostmaster(join(home, 'postgres')) !== undefined) continue;
    await rm(home, { recursive: true, force: true });
  }
}

/** The postmaster running on `dataDir`, from the first line of its postmaster.pid, if any. */
export function runningPostmaster(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}
