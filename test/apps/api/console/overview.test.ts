/**
 * GET /overview reads the process's own Prometheus registry: a family the process registers reads
 * as a number from the start (0 before its first event), one it does not register reads as null
 * ("not in this process"), and rates come from samples taken on a given clock.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { buildApi } from '../../../../src/apps/api/build.ts';
import { OverviewHistory, rates } from '../../../../src/apps/api/console/overview-history.ts';
import { OutcomeStatuses } from '../../../../src/execution/index.ts';
import { dbWorkerMetrics } from '../../../../src/apps/db-worker/metrics.ts';
import { LogWorkerMetrics } from '../../../../src/apps/log-worker/metrics.ts';
import { loadRegistry } from '../../../../src/commands/index.ts';
import { MemoryTransport } from '../../../../src/transport/memory/index.ts';
import { repoRoot } from '../../../../scripts/services/state.ts';

interface Overview {
  metrics_in_process: boolean;
  rates: Record<'accepted' | 'executed' | 'failed', Array<[number, number]> | null>;
  breaker: string | null;
  logs: { sink: string | null; pushed_total: number | null; loki_pushes: Record<string, number> | null } | null;
}

async function overview(t: TestContext, metrics: Registry | undefined): Promise<Overview> {
  const transport = new MemoryTransport();
  t.after(() => transport.close());
  const app = await buildApi({
    registry: await loadRegistry(join(repoRoot, 'commands', 'registry.yaml')),
    publisher: transport,
    topics: { dbEvents: 'db-events', appLogs: 'app-logs' },
    limits: { bodyLimitBytes: 64 * 1024, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 5, publishTimeoutMs: 1_000 },
    logger: false,
    metrics,
  });
  t.after(() => app.close());
  const response = await app.inject({ method: 'GET', url: '/overview' });
  assert.equal(response.statusCode, 200, response.body);
  return response.json<Overview>();
}

describe('GET /overview', () => {
  test('with the workers in the process and nothing counted yet, rates and log delivery read as measured, not as missing', async (t) => {
    const metrics = new Registry();
    dbWorkerMetrics(metrics);
    new LogWorkerMetrics(metrics);
    const view = await overview(t, metrics);
    assert.equal(view.metrics_in_process, true);
    for (const field of ['accepted', 'executed', 'failed'] as const) assert.notEqual(view.rates[field], null, `${field} is measured here`);
    assert.ok(view.logs, 'the log worker runs here');
    assert.equal(view.logs.pushed_total, 0);
    assert.equal(view.logs.sink, null, 'no line stored yet');
    assert.equal(view.logs.loki_pushes, null, 'no push to Loki: the sink is not known to be Loki');
  });

  test('a standalone API has no DB worker or log worker figures: they are null, not 0', async (t) => {
    const view = await overview(t, new Registry());
    assert.equal(view.rates.executed, null);
    assert.equal(view.rates.failed, null);
    assert.notEqual(view.rates.accepted, null, 'the API counts what it publishes');
    assert.equal(view.breaker, null);
    assert.equal(view.logs, null);
  });

  test('rates are the counters\' differences over the seconds between samples; a restart counts from zero', async () => {
    const metrics = new Registry();
    const worker = dbWorkerMetrics(metrics);
    const history = new OverviewHistory(metrics);
    const succeed = (n: number): void => {
      for (let i = 0; i < n; i++) worker.onOutcome?.(OutcomeStatuses.succeeded, 'create_user', '1', undefined);
    };
    await history.sample(0);
    succeed(20);
    await history.sample(10_000);
    succeed(5);
    await history.sample(20_000);
    metrics.resetMetrics();
    succeed(3);
    await history.sample(30_000);
    assert.deepEqual(rates(history.samples(), 'executed'), [[10_000, 2], [20_000, 0.5], [30_000, 0.3]]);
    assert.deepEqual(rates(history.samples(), 'failed'), [[10_000, 0], [20_000, 0], [30_000, 0]]);
  });
});
