/**
 * The refusals a role makes before it loads the modules it runs (a second or two on a busy
 * machine) or starts anything: invalid configuration, another Kitsune on this data directory, a
 * port it cannot listen on. They need only the configuration, so they answer at once. Every one
 * is also caught where it happens later (a port taken in between, a race for the data directory).
 */
import { loadConfig, loadDotEnv, type Config } from '../config/index.ts';
import { refuseIfRunning } from './instance.ts';
import { assertPortFree, type ListenAddress } from './ports.ts';

export const roles = ['start', 'api', 'db-worker', 'log-worker'] as const;
export type Role = (typeof roles)[number];

const metricsDefaults = new Map<Role, number>([
  ['db-worker', 9464],
  ['log-worker', 9465],
]);

/** Where `role` listens: the API's HTTP_PORT, or a standalone worker's /metrics port. */
export function roleAddress(role: Role, config: Config): ListenAddress {
  const metricsDefault = metricsDefaults.get(role);
  if (metricsDefault === undefined) return { host: config.http.host, port: config.http.port, setting: 'HTTP_PORT', command: role };
  return { host: config.http.host, port: config.metricsPort ?? metricsDefault, setting: 'KITSUNE_METRICS_PORT', command: role };
}

/** Throws the CliError of the first refusal, before anything is loaded or started. */
export async function preflight(role: Role, argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return;
  loadDotEnv();
  const config = loadConfig();
  if (role === 'start' && !config.postgresDsn) await refuseIfRunning(config.dataDir, role);
  await assertPortFree(roleAddress(role, config));
}
