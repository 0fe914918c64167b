/**
 * Quiet means nothing is left to happen: both worker groups have committed every record of their
 * topic (a DB worker commits only after its transaction, a log worker only after Loki accepted
 * or the DLQ took the line). Waited for by polling those conditions, never by the clock; the
 * deadline only turns a system that never settles into a failed run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { groupLag } from './kafka-read.ts';

export interface QuiesceTarget {
  brokers: readonly string[];
  groups: ReadonlyArray<{ group: string; topic: string }>;
}

/** Resolves with the time it took once every group's lag is 0 twice in a row; throws at the deadline. */
export async function quiesce(target: QuiesceTarget, deadlineMs: number): Promise<number> {
  const started = Date.now();
  let quietReads = 0;
  let last = '';
  while (quietReads < 2) {
    const lags = await Promise.all(target.groups.map(({ group, topic }) => groupLag(target.brokers, group, topic).catch(() => -1n)));
    last = target.groups.map(({ group }, i) => `${group}: ${lags[i]}`).join(', ');
    quietReads = lags.every((lag) => lag === 0n) ? quietReads + 1 : 0;
    if (Date.now() - started > deadlineMs) throw new Error(`not quiet after ${deadlineMs} ms (lag ${last})`);
    if (quietReads < 2) await sleep(500);
  }
  return Date.now() - started;
}
