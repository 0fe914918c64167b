/**
 * The embedded cluster's superuser password: random, made at initdb, stored in the cluster's own
 * directory (`kitsune-superuser-password`, mode 600, owned like the cluster) and read from there
 * by Kitsune and `kitsune db url`. Clusters made before this kept the constant password
 * `kitsune`; the first start that can still log in with it moves them to a random one.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { embeddedFailure } from './processes.ts';

export interface ClusterOwner {
  uid: number;
  gid: number;
}

/** What clusters initialised before random passwords were given. Never accepted after their next start. */
const legacyPassword = 'kitsune';

export const passwordFile = (dataDir: string): string => join(dataDir, 'kitsune-superuser-password');

export async function storedPassword(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(passwordFile(dataDir), 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export type Probe = 'ok' | 'wrong-password' | 'not-ready';

/** One connection attempt: is the server up, and does it take this password? */
export async function probe(dsn: string): Promise<Probe> {
  const client = new pg.Client({ connectionString: dsn, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return 'ok';
  } catch (error) {
    // 28P01 invalid_password, 28000 invalid_authorization_specification: up, but not for us.
    const code = (error as { code?: unknown }).code;
    return code === '28P01' || code === '28000' ? 'wrong-password' : 'not-ready';
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const dsnFor = (p: { user: string; password: string; port: number; database: string }): string =>
  `postgres://${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}@127.0.0.1:${p.port}/${encodeURIComponent(p.database)}`;

/**
 * The password the running server takes for `user`: the stored one, or, for a cluster that still
 * has the old constant password, a new random one set with ALTER ROLE. The new password is stored
 * before it is set, so an interruption between the two leaves a cluster the next start can finish.
 */
export async function settlePassword(
  p: { dataDir: string; port: number; user: string; owner: ClusterOwner | undefined },
): Promise<{ password: string; rotated: boolean }> {
  const dsn = (password: string): string => dsnFor({ user: p.user, password, port: p.port, database: 'postgres' });
  let password = await storedPassword(p.dataDir);
  if (password !== undefined && (await probe(dsn(password))) === 'ok') return { password, rotated: false };
  if (password === undefined) {
    password = randomBytes(24).toString('base64url');
    await storePassword(p.dataDir, password, p.owner);
  }
  if ((await probe(dsn(legacyPassword))) !== 'ok') {
    throw embeddedFailure(
      `The embedded cluster in ${p.dataDir} does not accept the superuser password stored in ` +
        `${passwordFile(p.dataDir)}. If you changed the '${p.user}' password yourself, write it to that file ` +
        `(mode 600); to start over with an empty cluster instead, stop Kitsune and delete ${p.dataDir} (its data is lost).`,
    );
  }
  const client = new pg.Client({ connectionString: dsn(legacyPassword) });
  // A server that ends the session between statements fails the next one, which is awaited here;
  // unheard, the client's 'error' event would end the process instead.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`ALTER ROLE ${client.escapeIdentifier(p.user)} PASSWORD ${client.escapeLiteral(password)}`);
  } finally {
    await client.end();
  }
  return { password, rotated: true };
}

async function storePassword(dataDir: string, password: string, owner: ClusterOwner | undefined): Promise<void> {
  await writePrivateFile(passwordFile(dataDir), `${password}\n`, owner);
}

/**
 * Writes a file only its owner can read (mode 600, also when it existed with another mode),
 * whole or not at all: a sibling is written and renamed over it.
 */
export async function writePrivateFile(path: string, text: string, owner?: ClusterOwner): Promise<void> {
  const partial = `${path}.${randomBytes(4).toString('hex')}.new`;
  try {
    await writeFile(partial, text, { mode: 0o600 });
    await chmod(partial, 0o600);
    if (owner) await chown(partial, owner.uid, owner.gid);
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
}
