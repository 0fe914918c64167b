/**
 * Where the CPU went during a measured window, by process group, from /proc (Linux): the
 * Kitsune process(es) under test, PostgreSQL (postmaster and backends), the Kafka broker, the
 * load generator, this orchestrator, and everything else on the machine. On a 2-core machine
 * that also runs the broker and the database, this is what says which process a figure is
 * limited by. Figures are cores (1.0 = one core busy for the whole window).
 *
 * Limits: a process that exits inside the window loses its share to "other", and a PID reused
 * inside the window is miscounted; on a system without procfs every share is 0.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Root PIDs of a group; `tree` includes their descendants (a postmaster's backends). */
export interface CpuGroup {
  pids: number[];
  tree: boolean;
}

export type CpuShares = Record<string, number> & { other: number; idle: number };

const ticksPerSecond = 100; // USER_HZ on Linux

function procStat(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

function machineTicks(): { busy: number; idle: number } {
  try {
    const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number);
    return { busy: user! + nice! + system! + irq! + softirq! + steal!, idle: idle! + iowait! };
  } catch {
    return { busy: 0, idle: 0 };
  }
}

interface Snapshot {
  at: number;
  machine: { busy: number; idle: number };
  /** Per group, the ticks of each process it claimed. */
  groups: Record<string, Map<number, number>>;
}

function snapshot(groups: Record<string, CpuGroup>): Snapshot {
  const processes = new Map<number, { ppid: number; ticks: number }>();
  let names: string[] = [];
  try {
    names = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    // no procfs
  }
  for (const name of names) {
    const stat = procStat(Number(name));
    if (stat) processes.set(Number(name), stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of processes) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const claimed = new Set<number>();
  const totals: Record<string, Map<number, number>> = {};
  // Groups claim processes in the order given, so a postmaster started by `kitsune start` counts
  // as PostgreSQL when that group comes first.
  for (const [label, group] of Object.entries(groups)) {
    const ticks = new Map<number, number>();
    const stack = [...group.pids];
    while (stack.length > 0) {
      const pid = stack.pop()!;
      if (claimed.has(pid)) continue;
      claimed.add(pid);
      const stat = processes.get(pid);
      if (stat) ticks.set(pid, stat.ticks);
      if (group.tree) stack.push(...(children.get(pid) ?? []));
    }
    totals[label] = ticks;
  }
  return { at: performance.now(), machine: machineTicks(), groups: totals };
}

/**
 * Starts a window; the returned function ends it and gives each group's CPU time in seconds,
 * unrounded (10 ms resolution per process), and the window's length.
 */
export function cpuTimeWindow(groups: Record<string, CpuGroup>): () => { seconds: number; cpu: Record<string, number> } {
  const start = snapshot(groups);
  return () => {
    const end = snapshot(groups);
    const cpu: Record<string, number> = {};
    for (const label of Object.keys(groups)) {
      let ticks = 0;
      for (const [pid, now] of end.groups[label]!) ticks += now - (start.groups[label]!.get(pid) ?? 0);
      cpu[label] = ticks / ticksPerSecond;
    }
    return { seconds: (end.at - start.at) / 1000, cpu };
  };
}

/** Starts a window; the returned function ends it and gives each group's cores. */
export function cpuWindow(groups: Record<string, CpuGroup>): () => CpuShares {
  const start = snapshot(groups);
  return () => {
    const end = snapshot(groups);
    const seconds = (end.at - start.at) / 1000;
    const cores = (ticks: number): number => Number((ticks / ticksPerSecond / seconds).toFixed(2));
    const shares: Record<string, number> = {};
    let attributed = 0;
    for (const label of Object.keys(groups)) {
      // Per process: one that started inside the window counts from 0; one that exited is lost.
      let ticks = 0;
      for (const [pid, now] of end.groups[label]!) ticks += now - (start.groups[label]!.get(pid) ?? 0);
      attributed += ticks;
      shares[label] = cores(ticks);
    }
    return {
      ...shares,
      other: cores(Math.max(0, end.machine.busy - start.machine.busy - attributed)),
      idle: cores(end.machine.idle - start.machine.idle),
    };
  };
}
