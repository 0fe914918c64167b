/**
 * What `services up` started, so `down` stops exactly those processes by PID and `up` twice
 * finds them again. One JSON file in the services directory.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePrivateFile } from '../../src/db/embedded.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface KafkaNodeState {
  nodeId: number;
  pid: number;
  port: number;
  controllerPort: number;
  dataDir: string;
  logFile: string;
  configFile: string;
}

export interface KafkaState {
  /** The first node's (the only one's, for a single broker). */
  pid: number;
  /** Bootstrap addresses, comma separated. */
  brokers: string;
  dataDir: string;
  logFile: string;
  /** A cluster's nodes, and what restarts one of them; absent for a single broker. */
  nodes?: KafkaNodeState[];
  classpath?: string;
  log4jFile?: string;
  jvm?: string[];
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
 * KITSUNE_SERVICES_DIR. (Default: `<repo>/.kitsune/services`.) As root in a checkout the `postgres`
 * user cannot enter, the PostgreSQL cluster inside it is a link to /var/lib/kitsune (see
 * src/db/embedded/location.ts); everything else stays here.
 */
export function servicesDir(): string {
  if (process.env.KITSUNE_SERVICES_DIR) return resolve(process.env.KITSUNE_SERVICES_DIR);
  return join(repoRoot, '.kitsune', 'services');
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
  // Holds the PostgreSQL superuser DSN, password included: readable by the owner only.
  await writePrivateFile(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);
}
