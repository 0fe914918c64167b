/**
 * An API built on the memory transport, for tests of the HTTP contract (broker behaviour has its
 * own suites against real Kafka). Every command the API accepts is kept, so a test can say that a
 * refused request published nothing.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../../src/apps/api/build.ts';
import type { ApiDeps, ApiLimits } from '../../../src/apps/api/deps.ts';
import { loadRegistry, type Registry } from '../../../src/commands/index.ts';
import { MemoryTransport } from '../../../src/transport/memory/index.ts';
import { repoRoot } from '../../../scripts/services/state.ts';

export const topics = { dbEvents: 'db-events', appLogs: 'app-logs' };
export const limits: ApiLimits = { bodyLimitBytes: 64 * 1024, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 5, publishTimeoutMs: 5_000 };

let registry: Registry | undefined;
export const exampleRegistry = async (): Promise<Registry> => (registry ??= await loadRegistry(join(repoRoot, 'commands', 'registry.yaml')));

export interface TestApi {
  app: FastifyInstance;
  /** Ids of the events published to db-events so far, in order. */
  publishedIds: () => string[];
}

export async function memoryApi(t: TestContext, overrides: Partial<ApiDeps> = {}): Promise<TestApi> {
  const transport = new MemoryTransport();
  await transport.ensureTopics([{ name: topics.dbEvents, partitions: 3 }, { name: topics.appLogs, partitions: 1 }]);
  const published: string[] = [];
  const publisher = {
    publish: async (topic: string, messages: Parameters<MemoryTransport['publish']>[1]) => {
      await transport.publish(topic, messages);
      if (topic === topics.dbEvents) published.push(...messages.map((m) => m.id ?? randomUUID()));
    },
  };
  const app = await buildApi({ registry: await exampleRegistry(), publisher, topics, limits, logger: false, ...overrides });
  t.after(async () => {
    await app.close();
    await transport.close();
  });
  return { app, publishedIds: () => [...published] };
}

export const createUser = (email: string, metadata?: Record<string, unknown>): Record<string, unknown> => ({
  command: 'create_user',
  version: 1,
  payload: { name: 'Ada', email },
  ...(metadata === undefined ? {} : { metadata }),
});

export interface ErrorAnswer {
  error: { code: string; message: string; field?: string; in?: string; errors?: Array<{ field: string; message: string; code?: string }> };
}
