/** The run's randomness, all from one seed (pure-rand's xoroshiro128+), so a seed replays a run's plan. */
import { uniformInt as uniformIntDistribution } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export interface Random {
  /** An integer from `from` to `to`, both included. */
  int(from: number, to: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

export function seeded(seed: number): Random {
  const rng = xoroshiro128plus(seed);
  const int = (from: number, to: number): number => uniformIntDistribution(rng, from, to);
  return {
    int,
    chance: (p) => int(0, 999_999) < p * 1_000_000,
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from nothing');
      return items[int(0, items.length - 1)]!;
    },
  };
}
