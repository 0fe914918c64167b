/**
 * GET /overview: what the console's first page shows, from Kitsune's own metrics (the registry
 * GET /metrics serves) and the DLQ's bounds: accepted/executed/failed per second over the last
 * 15 minutes, consumer lag per group and partition in records and seconds, the DB worker's
 * breaker, the log sink's health and the DLQ's depth.
 *
 * A figure whose metric family is not in this process is null: a standalone `kitsune api` has no
 * DB worker metrics (those are on the worker's own /metrics); `kitsune start` has them all.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { pendingFrom } from '../../../dlq/log.ts';
import type { DlqAccess } from './dlq.ts';
import { historySettings, OverviewHistory, rates, snapshot, type MetricsSnapshot } from './overview-history.ts';
import type { Guard } from './scope.ts';

export interface OverviewDeps {
  metrics: Registry | undefined;
  dlq: DlqAccess | undefined;
}

const breakerStates = ['closed', 'half_open', 'open'] as const;

const sum = (metrics: MetricsSnapshot, name: string, where: (labels: Record<string, string | number | undefined>) => boolean = () => true): number | null => {
  const values = metrics.get(name);
  return values ? values.filter((v) => where(v.labels)).reduce((total, v) => total + v.value, 0) : null;
};

function lagTable(metrics: MetricsSnapshot): Array<{ group: string; topic: string; partition: number; records: number | null; seconds: number | null }> | null {
  const records = metrics.get('kitsune_consumer_lag_records');
  const seconds = metrics.get('kitsune_consumer_lag_seconds');
  if (!records && !seconds) return null;
  const rows = new Map<string, { group: string; topic: string; partition: number; records: number | null; seconds: number | null }>();
  const row = (labels: Record<string, string | number | undefined>) => {
    const id = `${labels.group}/${labels.topic}/${labels.partition}`;
    let found = rows.get(id);
    if (!found) {
      found = { group: String(labels.group), topic: String(labels.topic), partition: Number(labels.partition), records: null, seconds: null };
      rows.set(id, found);
    }
    return found;
  };
  for (const v of records ?? []) row(v.labels).records = v.value;
  for (const v of seconds ?? []) row(v.labels).seconds = v.value;
  return [...rows.values()].sort((a, b) => a.group.localeCompare(b.group) || a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

async function dlqDepth(dlq: DlqAccess | undefined): Promise<{ topic: string; depth: number } | null> {
  if (!dlq) return null;
  const { deps } = dlq;
  const snap = await deps.log.describe(deps.dlqTopic, deps.group);
  const depth = snap.partitions.reduce((total, p) => total + Number(p.end - pendingFrom(p)), 0);
  return { topic: deps.dlqTopic, depth: Math.max(0, depth) };
}

export function registerOverview(app: FastifyInstance, deps: OverviewDeps, guard: Guard): void {
  const history = deps.metrics ? new OverviewHistory(deps.metrics) : undefined;
  if (history) {
    app.addHook('onReady', () => Promise.resolve(history.start()));
    app.addHook('onClose', () => Promise.resolve(history.stop()));
  }
  app.get('/overview', { onRequest: guard }, async () => {
    const metrics: MetricsSnapshot = deps.metrics ? await snapshot(deps.metrics) : new Map();
    const samples = history?.samples() ?? [];
    const breaker = sum(metrics, 'kitsune_db_breaker_state');
    // Registered in every log worker; Loki's only when it has pushed (the Postgres sink never does).
    const counted = metrics.get('kitsune_loki_push_duration_seconds_count');
    const pushes = counted && counted.length > 0 ? counted : undefined;
    const sinks = metrics.get('kitsune_log_lines_pushed_total');
    return {
      now: new Date().toISOString(),
      sampled_every_seconds: historySettings.everyMs / 1000,
      window_seconds: historySettings.windowMs / 1000,
      metrics_in_process: deps.metrics !== undefined,
      rates: {
        accepted: rates(samples, 'accepted'),
        executed: rates(samples, 'executed'),
        failed: rates(samples, 'failed'),
      },
      lag: {
        db_worker_records: samples.some((s) => s.lagRecords !== undefined) ? samples.filter((s) => s.lagRecords !== undefined).map((s) => [s.at, s.lagRecords!]) : null,
        partitions: lagTable(metrics),
      },
      breaker: breaker === null ? null : (breakerStates[breaker] ?? 'open'),
      logs:
        sinks || pushes
          ? {
              sink: sinks?.find((v) => v.value > 0)?.labels.sink ?? (pushes ? 'loki' : null),
              pushed_total: sum(metrics, 'kitsune_log_lines_pushed_total'),
              loki_pushes: pushes ? Object.fromEntries(pushes.map((v) => [String(v.labels.outcome), v.value])) : null,
              retries_total: sum(metrics, 'kitsune_log_sink_retries_total'),
              dead_lettered_total: sum(metrics, 'kitsune_log_lines_dead_lettered_total'),
            }
          : null,
      dlq: await dlqDepth(deps.dlq),
    };
  });
}
