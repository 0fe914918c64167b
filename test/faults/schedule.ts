/**
 * Which faults a run injects, and when: a list drawn from the seed, each fault triggered when a
 * share of the operations has been answered (progress, not wall time: a loaded machine runs the
 * same schedule, only slower).
 */
import type { Random } from './random.ts';

export const FaultNames = {
  killDbWorker: 'kill db-worker',
  /** Two DB workers: the second while the group rebalances after the first came back. */
  killDbWorkersInRebalance: 'kill db-workers during rebalance',
  killLogWorker: 'kill log-worker',
  killApi: 'kill api',
  killBrokerLeader: 'kill broker (db-events leader)',
  /** The node coordinating a worker group: its members must find the group's new coordinator. */
  killGroupCoordinator: 'kill broker (group coordinator)',
  pauseBroker: 'pause broker',
  restartPostgres: 'restart postgres (immediate)',
  ambiguousCommit: 'ambiguous commit',
  loki429: 'loki 429',
  loki500: 'loki 500',
  lokiHang: 'loki hang',
  terminateApi: 'sigterm api',
  terminateDbWorker: 'sigterm db-worker',
  terminateLogWorker: 'sigterm log-worker',
} as const;

export type FaultName = (typeof FaultNames)[keyof typeof FaultNames];

export interface ScheduledFault {
  fault: FaultName;
  /** Operations answered before it starts, as a share of all of them. */
  atProgress: number;
}

/**
 * The smoke tier: 5 DB worker kills (3 alone, 2 in a rebalance), 2 brokers (a db-events leader,
 * a group coordinator), 1 PostgreSQL restart, 1 ambiguous commit.
 */
export const smokeFaults: readonly FaultName[] = [
  FaultNames.killDbWorker,
  FaultNames.killDbWorker,
  FaultNames.killDbWorker,
  FaultNames.killDbWorkersInRebalance,
  FaultNames.killBrokerLeader,
  FaultNames.killGroupCoordinator,
  FaultNames.restartPostgres,
  FaultNames.ambiguousCommit,
];

/** The soak: every fault, several times. */
export const soakFaults: readonly FaultName[] = [
  ...smokeFaults,
  ...smokeFaults,
  FaultNames.killLogWorker,
  FaultNames.killLogWorker,
  FaultNames.killApi,
  FaultNames.killApi,
  FaultNames.pauseBroker,
  FaultNames.loki429,
  FaultNames.loki500,
  FaultNames.lokiHang,
  FaultNames.terminateApi,
  FaultNames.terminateDbWorker,
  FaultNames.terminateLogWorker,
];

/**
 * The faults spread evenly between 5% and 75% of the load: the last quarter is left for the last
 * fault's recovery to be seen on records produced after it. In an order from the seed, or in the
 * order given (`inOrder`: replaying a sequence a run found).
 */
export function schedule(random: Random, faults: readonly FaultName[], options: { inOrder?: boolean } = {}): ScheduledFault[] {
  const ordered = [...faults];
  for (let i = ordered.length - 1; i > 0 && !options.inOrder; i--) {
    const j = random.int(0, i);
    [ordered[i], ordered[j]] = [ordered[j]!, ordered[i]!];
  }
  const span = 0.7 / ordered.length;
  return ordered.map((fault, i) => ({ fault, atProgress: 0.05 + i * span + random.int(0, 1_000) / 1_000 * span * 0.5 }));
}

/** The faults a `--faults` list names, in its order; throws naming the first unknown one. */
export function parseFaultList(list: string): FaultName[] {
  const known = new Set<string>(Object.values(FaultNames));
  return list.split(',').map((name) => {
    const fault = name.trim();
    if (!known.has(fault)) throw new Error(`--faults: unknown fault '${fault}' (known: ${[...known].join(', ')})`);
    return fault as FaultName;
  });
}
