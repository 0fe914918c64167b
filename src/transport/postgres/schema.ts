/**
 * Creates the log's schema and tables on first use. Idempotent and safe when several processes
 * start at once: the DDL runs under a transaction-level advisory lock keyed by the schema name.
 *
 * Limit: tables are created, never altered; a future change of their shape needs a migration.
 */
import { inTransaction, type LogContext } from './context.ts';

export async function ensureSchema(context: LogContext): Promise<void> {
  await inTransaction(context, async (client) => {
    await client.query(context.sql.SchemaLock, [context.settings.schema]);
    // No parameters: sent as a simple query, which may hold several statements.
    await client.query(context.sql.SchemaCreate);
  });
}
