/**
 * One row of kitsune.logs (src/db/migrations/0002_logs.sql) as the API reads it, and the one
 * mapping from that row to the line the API answers (LogView), used by GET /logs and by the
 * console's timeline alike, so the two cannot show a line differently.
 */
import type { LogView } from '../../contract/http.ts';

/** The row is the line with its timestamp as PostgreSQL gives it: a Date named `ts`. */
export type LogRow = Omit<LogView, 'timestamp'> & { ts: Date };

/** The line as the API answers it: `ts` becomes `timestamp`, ISO 8601 UTC. */
export const logView = (row: LogRow): LogView => ({
  event_id: row.event_id,
  timestamp: row.ts.toISOString(),
  level: row.level,
  command: row.command,
  version: row.version,
  source: row.source,
  message: row.message,
  idempotency_key: row.idempotency_key,
  trace_id: row.trace_id,
});
