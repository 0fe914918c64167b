/** What Kitsune's own tables say about dead letters: applied keys, stored outcomes, the replay lock. */
import type pg from 'pg';
import { loadQueries } from '../db/queries.ts';
import { ErrorCodes, KitsuneError } from '../errors.ts';
import type { DeadLetter } from './records.ts';

export const queries = loadQueries(new URL('./sql/dlq.sql', import.meta.url), [
  'ReplayLockTry',
  'ReplayUnlock',
  'IdempotencyFind',
  'ResultsGet',
  'ResultsSince',
  'ClockNow',
  'DryRunLimits',
]);

export interface AppliedRow {
  eventId: string;
  at: Date;
}

export const isUuid = (value: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/** Map key of an idempotency row: (source, key), NUL-separated. */
export const idempotencyKeyOf = (source: string, key: string): string => `${source}\u0000${key}`;

/** The idempotency rows of the letters' events, by idempotencyKeyOf(source, key). */
export async function findApplied(pool: pg.Pool, letters: readonly DeadLetter[]): Promise<Map<string, AppliedRow>> {
  const pairs = new Map<string, [string, string]>();
  for (const { event } of letters) {
    if (event) pairs.set(idempotencyKeyOf(event.metadata.source, event.metadata.idempotency_key), [event.metadata.source, event.metadata.idempotency_key]);
  }
  if (pairs.size === 0) return new Map();
  const list = [...pairs.values()];
  const { rows } = await pool.query<{ source: string; idempotency_key: string; event_id: string; created_at: Date }>(queries.IdempotencyFind, [
    list.map(([source]) => source),
    list.map(([, key]) => key),
  ]);
  return new Map(rows.map((row) => [idempotencyKeyOf(row.source, row.idempotency_key), { eventId: row.event_id, at: row.created_at }]));
}

export interface StoredResult {
  event_id: string;
  status: 'succeeded' | 'dead_lettered';
  error: { reason?: string; code?: string; sqlstate?: string } | null;
  attempts?: number;
  completed_at?: Date;
}

export async function findResults(pool: pg.Pool, eventIds: readonly string[]): Promise<Map<string, StoredResult>> {
  const ids = [...new Set(eventIds.filter(isUuid))];
  if (ids.length === 0) return new Map();
  const { rows } = await pool.query<StoredResult>(queries.ResultsGet, [ids]);
  return new Map(rows.map((row) => [row.event_id, row]));
}

/** The database's clock: outcomes are stamped with it, so "since" compares like with like. */
export async function databaseNow(pool: pg.Pool): Promise<Date> {
  const { rows } = await pool.query<{ now: Date }>(queries.ClockNow);
  return rows[0]!.now;
}

export async function resultsSince(pool: pg.Pool, eventIds: readonly string[], since: Date): Promise<Map<string, StoredResult>> {
  const ids = [...new Set(eventIds.filter(isUuid))];
  if (ids.length === 0) return new Map();
  const { rows } = await pool.query<StoredResult>(queries.ResultsSince, [ids, since]);
  return new Map(rows.map((row) => [row.event_id, row]));
}

export interface ReplayLock {
  release(): Promise<void>;
}

/**
 * Takes the replay lock of `name` on a connection of its own, held until release(). Throws what
 * to do when another replay or purge holds it.
 */
export async function takeReplayLock(pool: pg.Pool, name: string): Promise<ReplayLock> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(queries.ReplayLockTry, [name]);
    if (!rows[0]?.locked) {
      throw new KitsuneError(
        ErrorCodes.UNAVAILABLE,
        `another \`kitsune dlq replay\` or \`purge\` is running on ${name}; wait for it to finish (its connection shows in pg_stat_activity as application kitsune-dlq), then run this again`,
        { retryable: true },
      );
    }
  } catch (error) {
    client.release();
    throw error;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await client.query(queries.ReplayUnlock, [name]);
        client.release();
      } catch (error) {
        // Ending the session releases the lock too.
        client.release(error as Error);
      }
    },
  };
}
