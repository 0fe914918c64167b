/** Wires the DB worker from a runtime; the group is `<KAFKA_GROUP_ID>.db-worker`. */
import type { Runtime } from '../../cli/runtime.ts';
import { createDbWorker, type DbWorker, type DbWorkerHooks } from './worker.ts';

export async function startDbWorker(runtime: Runtime, hooks?: DbWorkerHooks): Promise<DbWorker> {
  const { config, transport, pool, registry, logger } = runtime;
  if (!pool) throw new Error('the DB worker needs PostgreSQL (POSTGRES_DSN)');
  const worker = createDbWorker({
    transport,
    pool,
    registry,
    topics: { dbEvents: config.topics.dbEvents, dbResults: config.topics.dbResults },
    group: `${config.groupId}.db-worker`,
    logger: logger.child({ component: 'db-worker' }),
    ...(runtime.schemaRegistry ? { checkEvents: runtime.schemaRegistry.check } : {}),
    ...(hooks ? { hooks } : {}),
  });
  await worker.start();
  return worker;
}
