/**
 * Runs the scheduled faults one after another, each healed before the next: a killed process is
 * started again (as a supervisor would), a killed or paused broker comes back, PostgreSQL
 * restarts. Each fault is written to the history with its start and end, and recovery after
 * each one that stops processing (recovery.ts) is measured before the next begins. A killed
 * worker is restarted once the survivors have taken its partitions over: the figure is how long
 * the group takes to cover for a lost member, and the rejoin's rebalance follows as a fault of
 * its own kind before the next one.
 */
import { hostname } from 'node:os';
import { FaultKinds } from '../support/loki/index.ts';
import { stoppedWorkerDetail } from './checker.ts';
import type { LoadGate } from './gate.ts';
import type { History } from './history.ts';
import type { Random } from './random.ts';
import { resumed } from './recovery.ts';
import type { RoleName, RoleProcess, Roles } from './roles.ts';
import { FaultNames, type FaultName, type ScheduledFault } from './schedule.ts';
import type { FaultServices } from './services.ts';

export interface Recovery {
  fault: FaultName;
  target: string;
  /** ms from the fault taking hold until every partition moved on; undefined if not by the deadline. */
  ms: number | undefined;
}

export interface NemesisContext {
  services: FaultServices;
  roles: Roles;
  history: History;
  random: Random;
  groups: { dbWorker: string; logWorker: string };
  topics: { dbEvents: string; appLogs: string };
  /** Resolves once this share of the operations has been answered (or the load ended). */
  progress(share: number): Promise<void>;
  /** Current share answered. */
  done(): number;
  /** How far the load may run ahead of the faults. */
  gate: LoadGate;
  readyTimeoutMs: number;
  /** How long a fault may take to recover before the run counts it as not recovered. */
  recoveryDeadlineMs: number;
  log: (line: string) => void;
}

export async function runNemesis(context: NemesisContext, faults: readonly ScheduledFault[]): Promise<Recovery[]> {
  const recoveries: Recovery[] = [];
  for (const [i, { fault, atProgress }] of faults.entries()) {
    // The load may run on to where the next fault is due while this one lasts.
    context.gate.allow(faults[i + 1]?.atProgress ?? 1);
    await context.progress(atProgress);
    context.log(`${fault}: at ${(context.done() * 100).toFixed(0)} % of the load`);
    recoveries.push(...(await inject(context, fault)));
  }
  context.gate.allow(1);
  return recoveries;
}

type Worker = 'db' | 'log';

async function inject(context: NemesisContext, fault: FaultName): Promise<Recovery[]> {
  const { services, roles, history, random } = context;
  const mark = (phase: 'start' | 'end', target?: string, detail?: string): void =>
    history.add({ type: 'nemesis', t: Date.now(), phase, fault, ...(target ? { target } : {}), ...(detail ? { detail } : {}) });
  /**
   * `takeHold` injects the fault (and resolves once it holds: the process is gone, the broker
   * paused); recovery is measured from then while `heal` undoes it.
   */
  const measured = async (worker: Worker, target: string, takeHold: () => Promise<void>, heal: () => Promise<void>, healAfter = false, detail?: string): Promise<Recovery> => {
    mark('start', target, detail);
    await takeHold();
    const since = Date.now();
    const [group, topic] = worker === 'db' ? [context.groups.dbWorker, context.topics.dbEvents] : [context.groups.logWorker, context.topics.appLogs];
    // No record is coming once every operation the gate lets start has been answered: the load
    // is over, or waits at the gate for this fault to end (a paused broker can hold the watch's
    // first read until then).
    const noNewRecords = (): boolean => context.done() >= context.gate.allowedShare;
    const watch = () =>
      resumed({ brokers: services.brokers, group, topic, since, deadlineMs: context.recoveryDeadlineMs, noNewRecords, report: (line) => context.log(`${fault}: ${line}`) });
    let ms: number | undefined;
    if (healAfter) {
      ms = await watch();
      await heal();
    } else {
      [ms] = await Promise.all([watch(), heal()]);
    }
    mark('end', target, ms === undefined ? 'did not resume' : `resumed after ${ms} ms`);
    context.log(`${fault} ${target}: ${ms === undefined ? 'did not resume' : `resumed after ${ms} ms`}`);
    return { fault, target, ms };
  };
  const restart = (role: RoleProcess): Promise<void> => roles.start(role, context.readyTimeoutMs);
  const pick = (role: RoleName): RoleProcess => random.pick(roles.byRole(role));
  // While the load lasts a fault's length is measured in operations; after it there is no clock to wait for.
  // Bounded by the gate (less the clients' operations in flight), so a hold never waits on itself.
  const hold = (): Promise<void> => context.progress(Math.min(1, context.done() + 0.02, context.gate.allowedShare - 64 / context.gate.events));
  const stop = (role: RoleProcess, signal: NodeJS.Signals) => () => roles.signal(role, signal);

  switch (fault) {
    case FaultNames.killDbWorker:
    case FaultNames.terminateDbWorker: {
      const worker = pick('db-worker');
      // The process as its db-results records name it, so the checker knows what it ran.
      const ran = worker.child?.pid === undefined ? undefined : stoppedWorkerDetail(`${hostname()}/${worker.child.pid}`);
      return [await measured('db', worker.name, stop(worker, fault === FaultNames.killDbWorker ? 'SIGKILL' : 'SIGTERM'), () => restart(worker), true, ran)];
    }
    case FaultNames.killDbWorkersInRebalance: {
      const [first, second] = shuffledPair(random, roles.byRole('db-worker'));
      return [
        await measured('db', `${first.name} then ${second.name}`, stop(first, 'SIGKILL'), async () => {
          await restart(first);
          // The restarted member just joined: the group is rebalancing as the second one dies.
          await roles.signal(second, 'SIGKILL');
          await restart(second);
        }),
      ];
    }
    case FaultNames.killLogWorker:
    case FaultNames.terminateLogWorker: {
      const worker = pick('log-worker');
      return [await measured('log', worker.name, stop(worker, fault === FaultNames.killLogWorker ? 'SIGKILL' : 'SIGTERM'), () => restart(worker), true)];
    }
    case FaultNames.killApi:
    case FaultNames.terminateApi: {
      const api = pick('api');
      mark('start', api.name);
      const since = Date.now();
      await roles.signal(api, fault === FaultNames.killApi ? 'SIGKILL' : 'SIGTERM');
      await restart(api);
      const ms = Date.now() - since;
      mark('end', api.name, `serving again after ${ms} ms`);
      return [{ fault, target: api.name, ms }];
    }
    case FaultNames.killBrokerLeader: {
      const partition = random.int(0, 5);
      const leader = await services.leaderOf(context.topics.dbEvents, partition);
      return [
        await measured('db', `node ${leader} (leads ${context.topics.dbEvents}/${partition})`, () => services.killBroker(leader), async () => {
          await hold();
          await services.restartBroker(leader);
        }),
      ];
    }
    case FaultNames.killGroupCoordinator: {
      const worker: Worker = random.pick(['db', 'log'] as const);
      const coordinator = await services.coordinatorOf(worker === 'db' ? context.groups.dbWorker : context.groups.logWorker);
      return [
        await measured(worker, `node ${coordinator} (coordinates the ${worker} workers)`, () => services.killBroker(coordinator), async () => {
          await hold();
          await services.restartBroker(coordinator);
        }),
      ];
    }
    case FaultNames.pauseBroker: {
      const node = random.pick(services.kafka.nodes).nodeId;
      return [
        await measured('db', `node ${node}`, () => Promise.resolve(services.pauseBroker(node)), async () => {
          await hold();
          services.resumeBroker(node);
        }),
      ];
    }
    case FaultNames.restartPostgres:
      return [await measured('db', 'postgres', () => services.stopPostgresImmediately(), () => services.restartPostgres())];
    case FaultNames.ambiguousCommit: {
      const target = 'db-worker-5 via proxy';
      mark('start', target);
      const dropped = services.proxy.armCommitDrop();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolveTimeout) => (timer = setTimeout(() => resolveTimeout('timeout'), context.recoveryDeadlineMs)));
      const result = await Promise.race([dropped.then(() => 'dropped' as const), deadline]);
      clearTimeout(timer);
      mark('end', target, result === 'dropped' ? 'connection cut after COMMIT' : 'no COMMIT came through the proxy');
      context.log(`${fault}: ${result === 'dropped' ? 'connection cut after COMMIT' : 'no COMMIT came through the proxy'}`);
      return [];
    }
    case FaultNames.loki429:
    case FaultNames.loki500:
    case FaultNames.lokiHang: {
      const lokiFault =
        fault === FaultNames.loki429
          ? { kind: FaultKinds.STATUS, status: 429, retryAfterSeconds: 1, forMs: 3_000 }
          : fault === FaultNames.loki500
            ? { kind: FaultKinds.STATUS, status: 500, count: 5 }
            : { kind: FaultKinds.HANG, forMs: 12_000 };
      mark('start', 'loki', JSON.stringify(lokiFault));
      services.loki.faults.push(lokiFault);
      await hold();
      mark('end', 'loki');
      return [];
    }
  }
}

function shuffledPair<T>(random: Random, items: readonly T[]): [T, T] {
  const first = random.int(0, items.length - 1);
  let second = random.int(0, items.length - 2);
  if (second >= first) second++;
  return [items[first]!, items[second]!];
}
