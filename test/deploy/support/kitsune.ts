/**
 * What the deployment files must agree with, read from Kitsune itself rather than restated:
 * the environment variables its configuration module reads, and what it makes of a set of them.
 */
import { loadConfig, type Config } from '../../../src/config/index.ts';

/**
 * Every variable name loadConfig() reads, recorded by handing it an environment that notes each
 * name asked for (and answers "unset" to all of them).
 */
export function variablesKitsuneReads(): Set<string> {
  const names = new Set<string>();
  const recording = new Proxy<Record<string, string | undefined>>({}, {
    get(_target, name) {
      if (typeof name === 'string') names.add(name);
      return undefined;
    },
  });
  loadConfig(recording);
  return names;
}

/** The names in `env` that Kitsune does not read: a typo, or a setting that does nothing. */
export function unreadVariables(env: Record<string, string>): string[] {
  const read = variablesKitsuneReads();
  return Object.keys(env).filter((name) => !read.has(name));
}

/** The configuration a role gets from `env` (throws Kitsune's own INVALID_CONFIG error). */
export function configFrom(env: Record<string, string>): Config {
  return loadConfig(env);
}

/** The DB workers' consumer group for a configuration (src/apps/db-worker/main.ts). */
export function dbWorkerGroup(config: Config): string {
  return `${config.groupId}.db-worker`;
}

/** The roles that run until stopped, and the port each serves GET /healthz on. */
export const longRunningRoles = ['api', 'db-worker', 'log-worker'] as const;
export type LongRunningRole = (typeof longRunningRoles)[number];

export function healthPort(role: LongRunningRole, config: Config): number | undefined {
  return role === 'api' ? config.http.port : config.metricsPort;
}
