/**
 * Times a role draining a backlog: polls `count` until it reaches `total`, and takes the rate from
 * the first item counted to the last, so start-up (joining the group, connecting) is not in it.
 * `onFirst` runs when the first item is counted: the place to open a CPU window.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface DrainTiming {
  /** Items counted so far (a metric, a server's tally). */
  count: () => Promise<number>;
  total: number;
  pollMs: number;
  /** For the error when nothing moves for 60 s: 'the DB worker', 'events'. */
  who: string;
  unit: string;
  onFirst: () => void;
}

/** Items per second from the first counted to the last. Throws after 60 s without progress. */
export async function timeDrain(p: DrainTiming): Promise<number> {
  let first: { at: bigint; count: number } | undefined;
  let last = { at: process.hrtime.bigint(), count: 0 };
  for (;;) {
    const count = await p.count();
    const at = process.hrtime.bigint();
    if (count > 0 && !first) {
      first = { at, count };
      p.onFirst();
    }
    if (count > last.count) last = { at, count };
    if (count >= p.total) break;
    if (Number(at - last.at) / 1e9 > 60) throw new Error(`${p.who} made no progress for 60 s at ${count} of ${p.total} ${p.unit}`);
    await sleep(p.pollMs);
  }
  return Math.round((last.count - first!.count) / (Number(last.at - first!.at) / 1e9));
}
