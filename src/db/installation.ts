/**
 * The installation's event id secret: KITSUNE_EVENT_ID_SECRET when set, else the one created in
 * Kitsune's schema the first time it was migrated. Every API replica of one installation reads
 * the same value, so a retry gets the same id whichever replica answers it.
 */
import type pg from 'pg';
import { ErrorCodes, KitsuneError } from '../errors.ts';
import { loadQueries } from './queries.ts';

const queries = loadQueries(new URL('./sql/installation.sql', import.meta.url), ['InstallationEventIdSecret']);

export async function eventIdSecret(override: Buffer | undefined, pool: pg.Pool | undefined): Promise<Buffer> {
  if (override) return override;
  if (!pool) {
    throw new KitsuneError(ErrorCodes.INVALID_CONFIG, 'the API needs PostgreSQL (POSTGRES_DSN) or KITSUNE_EVENT_ID_SECRET to derive event ids', { retryable: false });
  }
  const { rows } = await pool.query<{ event_id_secret: Buffer }>(queries.InstallationEventIdSecret);
  const secret = rows[0]?.event_id_secret;
  if (!secret) throw new KitsuneError(ErrorCodes.INVALID_CONFIG, 'kitsune.installation has no row; run `kitsune migrate`', { retryable: false });
  return secret;
}
