/**
 * A token bucket with golang.org/x/time/rate's `AllowN` semantics, which Loki's ingestion and
 * per-stream limiters use: the bucket starts full, refills at `ratePerSecond`, and a request for
 * more than `burst` tokens is never allowed (so a push bigger than the burst always gets 429).
 * A refused request takes no tokens.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #lastMs: number;

  /** `ratePerSecond` 0 means no limit. */
  constructor(ratePerSecond: number, burst: number, nowMs: number) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#lastMs = nowMs;
  }

  allowN(n: number, nowMs: number): boolean {
    if (this.ratePerSecond === 0) return true;
    const elapsedMs = Math.max(0, nowMs - this.#lastMs);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsedMs / 1000) * this.ratePerSecond);
    this.#lastMs = nowMs;
    if (n > this.#tokens) return false;
    this.#tokens -= n;
    return true;
  }
}
