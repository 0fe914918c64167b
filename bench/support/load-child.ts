/**
 * The load generator's own process (forked by the orchestrator): autocannon for saturation, the
 * open-loop generator for fixed rates and end-to-end latency. Keeping it apart from the servers
 * and from the orchestrator means neither's event loop distorts the other's figures.
 */
import { commandSource, pathOf, type BodyKind, type CommandSource } from './commands.ts';
import { load } from './load.ts';
import { openLoop, waitForResults } from './open-loop.ts';
import { serve } from './rpc.ts';
import type { Latency } from './stats.ts';

export interface SaturationParams {
  url: string;
  kind: BodyKind;
  batchSize: number;
  seconds: number;
  connections: number;
  timeoutSeconds?: number;
}

export interface SaturationResult {
  eventsPerSecond: number;
  requestsPerSecond: number;
  latency: Latency;
  statuses: Record<string, number>;
  errors: number;
}

export interface FixedRateParams {
  url: string;
  kind: BodyKind;
  batchSize: number;
  eventsPerSecond: number;
  seconds: number;
  /** Await the result of one accepted event in `sampleEvery` through GET /events/:id?wait. */
  e2e?: { sampleEvery: number; waitSeconds: number };
}

export interface FixedRateResult {
  targetEventsPerSecond: number;
  achievedEventsPerSecond: number;
  latency: Latency;
  statuses: Record<string, number>;
  errors: number;
  e2e?: { latency: Latency; sampled: number; timeouts: number; errors: number };
  lastIds: string[];
}

let source: CommandSource = commandSource(`p${process.pid}`);

const handlers = {
  init: ({ scope }: { scope: string }) => {
    source = commandSource(`${scope}.p${process.pid}`);
    return Promise.resolve(true);
  },
  saturate: async (p: SaturationParams): Promise<SaturationResult> => {
    const perRequest = p.kind === 'execute' ? 1 : p.batchSize;
    const result = await load({ url: p.url, path: pathOf(p.kind), body: () => source.body(p.kind, p.batchSize), durationSeconds: p.seconds, connections: p.connections, ...(p.timeoutSeconds === undefined ? {} : { timeoutSeconds: p.timeoutSeconds }) });
    return {
      eventsPerSecond: result.requestsPerSecond * perRequest,
      requestsPerSecond: result.requestsPerSecond,
      latency: result.latency,
      statuses: result.statuses,
      errors: result.errors,
    };
  },
  fixedRate: async (p: FixedRateParams): Promise<FixedRateResult> => {
    const perRequest = p.kind === 'execute' ? 1 : p.batchSize;
    const result = await openLoop({
      url: p.url,
      path: pathOf(p.kind),
      body: () => source.body(p.kind, p.batchSize),
      rate: p.eventsPerSecond / perRequest,
      durationSeconds: p.seconds,
      ...(p.e2e ? { e2e: p.e2e } : {}),
    });
    return {
      targetEventsPerSecond: p.eventsPerSecond,
      achievedEventsPerSecond: Math.round(result.achievedRate * perRequest),
      latency: result.latency,
      statuses: result.statuses,
      errors: result.errors,
      ...(result.e2e ? { e2e: result.e2e } : {}),
      lastIds: result.lastIds,
    };
  },
  waitForResults: (p: { url: string; ids: string[]; timeoutSeconds: number }) => waitForResults(p.url, p.ids, p.timeoutSeconds),
};

export type LoadChild = typeof handlers;

serve(handlers);
