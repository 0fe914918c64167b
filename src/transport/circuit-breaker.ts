/**
 * Stops consuming while a dependency (PostgreSQL, Loki, the DLQ's broker) is down, and probes it
 * until it is back.
 *
 * It never dead-letters and never fails a call fast: an outage pauses consumption and the messages
 * already in hand wait, so no event is dead-lettered or burned through its retries because of a
 * failure that is not its own. Only the dependency's failures count (`counts`): a bad record, or
 * another system's failure, says nothing about it. One breaker per dependency, shared by every
 * subscription using it.
 */
import { checkNumber, runHook } from '../checks.ts';
import { ErrorCodes, KitsuneError, isRetryable, toError } from '../errors.ts';

export const CircuitStates = {
  /** Calls run; consecutive retryable failures are counted. */
  closed: 'closed',
  /** Consumption is paused; calls wait for the cool-down to end. */
  open: 'open',
  /** One probe (a call, or the `probe` option) is deciding between closed and open. */
  halfOpen: 'half_open',
} as const;

export type CircuitState = (typeof CircuitStates)[keyof typeof CircuitStates];

/** What the breaker pauses and resumes; a Subscription is one. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

export interface StateChangeInfo {
  /** Consecutive retryable failures counted when the state changed. */
  consecutiveFailures: number;
  /** On a change to open: the cool-down before the next probe. */
  openMs?: number;
  /** The failure that opened the circuit or failed the probe. */
  error?: Error;
}

/** The two timer functions the breaker uses; injectable so tests control time. */
export interface BreakerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CircuitBreakerOptions {
  /** Consecutive retryable failures that open the circuit. (Default: 5) */
  failureThreshold?: number;
  /** First cool-down before a probe; doubles after each failed probe. (Default: 5_000 ms) */
  openMs?: number;
  /** Longest cool-down. (Default: 60_000 ms) */
  maxOpenMs?: number;
  /**
   * A cheap health check (e.g. `SELECT 1`) run at each cool-down end instead of letting a real
   * message through; the circuit closes when it resolves. (Default: none, a waiting call probes)
   */
  probe?: () => Promise<void>;
  /**
   * Whether a failure is the dependency's (an outage) and counts towards opening the circuit, or
   * reopens it from half-open. (Default: isRetryable)
   */
  counts?: (error: unknown) => boolean;
  /** Called on every state change, for logs and metrics; must not throw. (Default: none) */
  onStateChange?: (from: CircuitState, to: CircuitState, info: StateChangeInfo) => void;
  /** (Default: the global setTimeout and clearTimeout) */
  timers?: BreakerTimers;
}

const defaults = {
  failureThreshold: 5,
  openMs: 5_000,
  maxOpenMs: 60_000,
  timers: {
    setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms),
    clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
  },
} as const satisfies Required<Omit<CircuitBreakerOptions, 'probe' | 'onStateChange' | 'counts'>>;

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #openMs: number;
  readonly #maxOpenMs: number;
  readonly #probe: (() => Promise<void>) | undefined;
  readonly #counts: (error: unknown) => boolean;
  readonly #onStateChange: CircuitBreakerOptions['onStateChange'];
  readonly #timers: BreakerTimers;

  #state: CircuitState = CircuitStates.closed;
  #failures = 0;
  /** Bumped on every state change: results of calls started under an older state are ignored. */
  #generation = 0;
  #coolDownMs: number;
  #timer: unknown;
  #probing = false;
  #paused = false;
  #shutDown = false;
  readonly #waiters = new Set<Waiter>();
  readonly #controls = new Set<FlowControl>();

  constructor(options: CircuitBreakerOptions = {}) {
    const owner = 'circuit breaker';
    this.#threshold = checkNumber(owner, 'failureThreshold', options.failureThreshold ?? defaults.failureThreshold, {
      min: 1,
      integer: true,
    });
    this.#openMs = checkNumber(owner, 'openMs', options.openMs ?? defaults.openMs, { min: 1 });
    this.#maxOpenMs = checkNumber(owner, 'maxOpenMs', options.maxOpenMs ?? defaults.maxOpenMs, { min: this.#openMs });
    this.#probe = options.probe;
    this.#counts = options.counts ?? isRetryable;
    this.#onStateChange = options.onStateChange;
    this.#timers = options.timers ?? defaults.timers;
    this.#coolDownMs = this.#openMs;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /**
   * Lets the breaker pause and resume `control` (several may be attached). One attached while the
   * circuit is open is paused at once. Returns a function that detaches it.
   */
  attach(control: FlowControl): () => void {
    this.#controls.add(control);
    if (this.#paused) control.pause();
    return () => {
      this.#controls.delete(control);
    };
  }

  /**
   * Runs `work` when the circuit allows it: at once when closed; otherwise it waits until the
   * circuit closes, or runs as the half-open probe. Rejects with what `work` threw, or with a
   * retryable CIRCUIT_OPEN error once close() was called.
   */
  async execute<T>(work: () => Promise<T>): Promise<T> {
    for (;;) {
      if (this.#state === CircuitStates.closed) return this.#runClosed(work);
      if (this.#shutDown) throw circuitOpen('the circuit breaker is shut down and the circuit is not closed');
      if (this.#state === CircuitStates.halfOpen && !this.#probing && this.#probe === undefined) return this.#runProbe(work);
      await new Promise<void>((resolve, reject) => this.#waiters.add({ resolve, reject }));
    }
  }

  /**
   * Releases every waiting call by rejecting it with a retryable CIRCUIT_OPEN error (the transport
   * will redeliver those messages), and stops the cool-down timer, so shutdown never hangs on an
   * outage. Calls made later run if the circuit is closed and are rejected otherwise. Idempotent.
   * Call it before awaiting Subscription.close(): that waits for in-flight handlers, these waiters.
   */
  close(): void {
    if (this.#shutDown) return;
    this.#shutDown = true;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.reject(circuitOpen('the circuit breaker was closed while this call waited'));
  }

  async #runClosed<T>(work: () => Promise<T>): Promise<T> {
    const generation = this.#generation;
    try {
      const result = await work();
      if (generation === this.#generation) this.#failures = 0;
      return result;
    } catch (thrown) {
      // Other failures neither count nor reset the streak: they say nothing about the dependency.
      if (this.#counts(thrown) && generation === this.#generation) {
        this.#failures += 1;
        if (this.#failures >= this.#threshold) {
          this.#coolDownMs = this.#openMs;
          this.#open(toError(thrown));
        }
      }
      throw thrown;
    }
  }

  async #runProbe<T>(work: () => Promise<T>): Promise<T> {
    this.#probing = true;
    let result: T;
    try {
      result = await work();
    } catch (thrown) {
      this.#probing = false;
      // Any other failure still proves the dependency answered, so only its own reopens.
      if (this.#counts(thrown)) this.#probeFailed(toError(thrown));
      else this.#closeCircuit();
      throw thrown;
    }
    this.#probing = false;
    this.#closeCircuit();
    return result;
  }

  #open(error: Error): void {
    this.#setPaused(true);
    this.#transition(CircuitStates.open, { openMs: this.#coolDownMs, error });
    if (!this.#shutDown) this.#timer = this.#timers.setTimeout(() => this.#coolDownEnded(), this.#coolDownMs);
  }

  #coolDownEnded(): void {
    this.#timer = undefined;
    const someoneWaiting = this.#waiters.size > 0;
    this.#transition(CircuitStates.halfOpen, {});
    if (this.#probe !== undefined) {
      void this.#runProbeFunction(this.#probe);
    } else if (!someoneWaiting) {
      // No message in hand to act as the probe (the transport may not redeliver while paused):
      // let the next one in. The others that arrive wait, and a failed probe pauses again.
      this.#setPaused(false);
    }
  }

  async #runProbeFunction(probe: () => Promise<void>): Promise<void> {
    this.#probing = true;
    try {
      await probe();
    } catch (thrown) {
      this.#probing = false;
      this.#probeFailed(toError(thrown));
      return;
    }
    this.#probing = false;
    this.#closeCircuit();
  }

  #probeFailed(error: Error): void {
    this.#coolDownMs = Math.min(this.#maxOpenMs, this.#coolDownMs * 2);
    this.#open(error);
  }

  #closeCircuit(): void {
    this.#failures = 0;
    this.#setPaused(false);
    this.#transition(CircuitStates.closed, {});
  }

  #setPaused(paused: boolean): void {
    // After close() the subscriptions are being closed; resuming one then would only fetch more.
    if (this.#paused === paused || (!paused && this.#shutDown)) return;
    this.#paused = paused;
    for (const control of this.#controls) {
      if (paused) control.pause();
      else control.resume();
    }
  }

  #transition(to: CircuitState, info: Omit<StateChangeInfo, 'consecutiveFailures'>): void {
    const from = this.#state;
    this.#state = to;
    this.#generation += 1;
    const onStateChange = this.#onStateChange;
    if (onStateChange) {
      runHook('onStateChange', () => onStateChange(from, to, { consecutiveFailures: this.#failures, ...info }));
    }
    // Every waiter re-reads the state: one may become the probe, the rest wait again.
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.resolve();
  }
}

function circuitOpen(message: string): KitsuneError {
  return new KitsuneError(ErrorCodes.CIRCUIT_OPEN, message, { retryable: true });
}
