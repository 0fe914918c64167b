/**
 * A level-triggered wake-up for a loop that otherwise sleeps: signals that arrive while the loop
 * is busy are remembered (collapsed into one), so a burst of notifications costs one extra pass.
 */
export class Wakeup {
  #pending = false;
  #wake: (() => void) | undefined;

  signal(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Resolves at the next signal (at once if one is pending) or after `timeoutMs`. */
  async wait(timeoutMs: number): Promise<void> {
    if (!this.#pending) {
      await new Promise<void>((resolveWait) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#wake = undefined;
          resolveWait();
        };
        const timer = setTimeout(done, timeoutMs);
        this.#wake = done;
      });
    }
    this.#pending = false;
  }
}
