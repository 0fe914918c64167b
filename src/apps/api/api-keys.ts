/**
 * Optional API keys (KITSUNE_API_KEYS_FILE). Each key names the `source` its events carry and the
 * commands it may run, so a caller cannot impersonate another service by writing metadata.source.
 * The file stores SHA-256 hashes of the keys, never the keys: a leaked config leaks no secret.
 *
 *   keys:
 *     - name: billing                      # for logs and metrics
 *       sha256: 5e88...                    # hex SHA-256 of the key
 *       source: billing-service
 *       commands: [create_user, update_user]   # or ["*"]
 *       rate_limit_per_second: 200         # optional (Default: unlimited)
 *       admin: true                        # may manage the dead-letter queue (Default: false)
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { ErrorCodes, KitsuneError } from '../../errors.ts';

export interface ApiKey {
  name: string;
  source: string;
  /** undefined: every command. */
  commands: ReadonlySet<string> | undefined;
  ratePerSecond: number | undefined;
  /** May list, dry-run, replay and purge dead letters (GET/POST /dlq...). */
  admin: boolean;
}

export class ApiKeys {
  readonly #byHash: ReadonlyMap<string, ApiKey>;

  constructor(byHash: ReadonlyMap<string, ApiKey>) {
    this.#byHash = byHash;
  }

  /** The key's grant, or undefined for an unknown key. */
  find(presented: string): ApiKey | undefined {
    return this.#byHash.get(hashKey(presented));
  }
}

export const hashKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Parses the keys file, reporting every problem at once. */
export function parseApiKeys(text: string, sourceName: string): ApiKeys {
  const problems: string[] = [];
  const doc: unknown = parse(text);
  const list = isRecord(doc) ? doc.keys : undefined;
  if (!Array.isArray(list)) problems.push('the file must have a `keys:` list');
  const byHash = new Map<string, ApiKey>();
  const names = new Set<string>();
  for (const [index, item] of (Array.isArray(list) ? list : []).entries()) {
    const at = `keys[${index}]`;
    if (!isRecord(item)) {
      problems.push(`${at} must be a mapping`);
      continue;
    }
    const known = new Set(['name', 'sha256', 'source', 'commands', 'rate_limit_per_second', 'admin']);
    for (const key of Object.keys(item)) if (!known.has(key)) problems.push(`${at}: unknown key "${key}"`);
    const { name, sha256, source, commands, rate_limit_per_second: rate, admin } = item;
    if (admin !== undefined && typeof admin !== 'boolean') problems.push(`${at}.admin must be true or false`);
    if (typeof name !== 'string' || name === '') problems.push(`${at}.name is required`);
    else if (names.has(name)) problems.push(`${at}: key name "${name}" is used twice`);
    else names.add(name);
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) problems.push(`${at}.sha256 must be 64 lowercase hex characters`);
    else if (byHash.has(sha256)) problems.push(`${at}: the same key hash is listed twice`);
    if (typeof source !== 'string' || source === '') problems.push(`${at}.source is required`);
    if (!Array.isArray(commands) || commands.some((c) => typeof c !== 'string')) problems.push(`${at}.commands must be a list of command names or ["*"]`);
    if (rate !== undefined && (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1)) {
      problems.push(`${at}.rate_limit_per_second must be a positive integer`);
    }
    if (typeof name === 'string' && typeof sha256 === 'string' && typeof source === 'string' && Array.isArray(commands)) {
      const all = commands.includes('*');
      byHash.set(sha256, {
        name,
        source,
        commands: all ? undefined : new Set(commands as string[]),
        ratePerSecond: typeof rate === 'number' ? rate : undefined,
        admin: admin === true,
      });
    }
  }
  if (problems.length > 0) {
    throw new KitsuneError(ErrorCodes.INVALID_CONFIG, `invalid API keys file ${sourceName}:\n  - ${problems.join('\n  - ')}`, { retryable: false });
  }
  return new ApiKeys(byHash);
}

export async function loadApiKeys(path: string): Promise<ApiKeys> {
  return parseApiKeys(await readFile(path, 'utf8'), path);
}
