/**
 * What every part of the Postgres log shares: the pool, the statements, the settings and the
 * error sink, plus the transaction helper and the notification payloads they all speak.
 */
import type pg from 'pg';
import { toError } from '../../errors.ts';
import type { ErrorSource, Settings } from './options.ts';
import type { Queries } from './sql.ts';

export interface LogContext {
  readonly pool: pg.Pool;
  readonly sql: Queries;
  readonly settings: Settings;
  /** The LISTEN/NOTIFY channel: the schema name, so two logs in one database do not cross. */
  readonly channel: string;
  readonly report: (error: unknown, source: ErrorSource) => void;
}

/**
 * Runs `work` in a transaction on one pooled connection. A connection that failed is destroyed,
 * not returned to the pool. While checked out, the client's 'error' events (the server going
 * away between statements) are reported instead of crashing the process: pg-pool only listens
 * on idle clients.
 */
export async function inTransaction<T>(context: LogContext, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await context.pool.connect();
  const onError = (error: Error): void => context.report(error, 'pool');
  client.on('error', onError);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = toError(rollbackError);
    });
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/** A notification: new messages on a topic, or a change in a group's membership or leases. */
export type Notice = { kind: 'messages'; topic: string } | { kind: 'group'; topic: string; group: string };

export function encodeNotice(notice: Notice): string {
  return JSON.stringify(notice);
}

/** Undefined for payloads this version does not understand (another version of Kitsune). */
export function decodeNotice(payload: string): Notice | undefined {
  try {
    const parsed = JSON.parse(payload) as Partial<Record<'kind' | 'topic' | 'group', unknown>>;
    if (parsed.kind === 'messages' && typeof parsed.topic === 'string') return { kind: 'messages', topic: parsed.topic };
    if (parsed.kind === 'group' && typeof parsed.topic === 'string' && typeof parsed.group === 'string') {
      return { kind: 'group', topic: parsed.topic, group: parsed.group };
    }
  } catch {
    // not ours
  }
  return undefined;
}

/** Sends notices on the log's channel, outside any transaction. */
export async function notify(context: LogContext, notices: readonly Notice[]): Promise<void> {
  await context.pool.query(context.sql.ChannelNotify, [context.channel, notices.map(encodeNotice)]);
}
