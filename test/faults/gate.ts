/**
 * The barrier between the load and the nemesis. While fault k runs, the load may go on up to the
 * point where fault k+1 is due, and no further: the next fault begins only once this one is healed
 * and its recovery seen, whatever the machine's speed, so a seed gives the same interleaving of
 * operations and faults on a quiet machine and on a loaded one.
 */
export class LoadGate {
  #allowed: number;
  readonly #waiters: Array<{ index: number; wake: () => void }> = [];

  /** `events` operations in all; none may start until allowed. */
  constructor(readonly events: number) {
    this.#allowed = 0;
  }

  /** Operations below this share of the plan may start. Never moves back. */
  allow(share: number): void {
    this.#allowed = Math.max(this.#allowed, Math.ceil(Math.min(1, share) * this.events));
    for (const waiter of this.#waiters.filter((w) => w.index < this.#allowed)) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.wake();
    }
  }

  /** The share allowed now. */
  get allowedShare(): number {
    return this.#allowed / this.events;
  }

  /** Resolves once operation `index` (0-based, plan order) may start. */
  until(index: number): Promise<void> {
    return index < this.#allowed ? Promise.resolve() : new Promise((wake) => this.#waiters.push({ index, wake }));
  }
}
