/**
 * What `services up` started, so `down` stops exactly those processes by PID and `up` twice
 * finds them again. One JSON file in the services directory.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { reachableByOthers } from '../../src/db/embedded.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface KafkaState {
  pid: number;
  brokers: string;
  dataDir: string;
  logFile: string;
}

export interface PostgresState {
  pid: number;
  dsn: string;
  dataDir: string;
  logFile: string;
}

export interface SchemaRegistryState {
  pid: number;
  /** The Confluent-compatible API's root, as KITSUNE_SCHEMA_REGISTRY_URL takes it. */
  url: string;
  /** The Apicurio Registry release, and the java running it. */
  version: string;
  java: string;
  logFile: string;
}

export interface ServicesState {
  kafka?: KafkaState;
  postgres?: PostgresState;
  schemaRegistry?: SchemaRegistryState;
}

/**
 * KITSUNE_SERVICES_DIR. (Default: `<repo>/.kitsune/services`; as root, when the checkout cannot be
 * entered by the `postgres` user, `<tmpdir>/kitsune-services-<hash of the checkout path>`.)
 */
export function servicesDir(): string {
  if (process.env.KITSUNE_SERVICES_DIR) return resolve(process.env.KITSUNE_SERVICES_DIR);
  const inRepo = join(repoRoot, '.kitsune', 'services');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || reachableByOthers(inRepo)) return inRepo;
  const hash = createHash('sha256').update(repoRoot).digest('hex').slice(0, 12);
  return join(tmpdir(), `kitsune-services-${hash}`);
}

const stateFile = (dir: string): string => join(dir, 'state.json');

export async function readState(dir: string): Promise<ServicesState> {
  if (!existsSync(stateFile(dir))) return {};
  return JSON.parse(await readFile(stateFile(dir), 'utf8')) as ServicesState;
}

export async function writeState(dir: string, state: ServicesState): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (!state.kafka && !state.postgres && !state.schemaRegistry) {
    await rm(stateFile(dir), { force: true });
    return;
  }
  await writeFile(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);
}
