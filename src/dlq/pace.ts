/**
 * Rate limiting for replays: items go out in chunks of about a tenth of the rate, and a chunk of
 * n starts no sooner than n / rate seconds after the previous one started. A slow publish does
 * not earn a catch-up burst afterwards. A replay of a large DLQ therefore reaches the worker as a
 * steady trickle next to live traffic, not as one burst that adds minutes of lag to every
 * partition.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface PaceClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PaceClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

/** Sends `items` through `send` at most `ratePerSecond` items per second on average. */
export async function paced<T>(items: readonly T[], ratePerSecond: number, send: (chunk: T[]) => Promise<void>, clock: PaceClock = realClock): Promise<void> {
  if (!(ratePerSecond > 0)) throw new RangeError(`the rate must be positive, got ${ratePerSecond}`);
  const chunkSize = Math.max(1, Math.floor(ratePerSecond / 10));
  let due = clock.now();
  for (let i = 0; i < items.length; i += chunkSize) {
    const wait = due - clock.now();
    if (wait > 0) await clock.sleep(wait);
    const chunk = items.slice(i, i + chunkSize);
    due = clock.now() + (chunk.length / ratePerSecond) * 1_000;
    await send(chunk);
  }
}
